"""The companion API contract (docs/companion-api.md) as one scenario of requests.

The same steps run against the real store with the plugin and against the
sandbox with ``plugin=True``; each answer is reduced to its status, its
error code and its *shape* (keys and JSON types, values ignored), and the two
must agree. ``tests/fixtures/companion/contract.json`` holds the real
store's shapes, so the sandbox is held to them even where the kit is absent;
the real-store test re-records it with ``ONETILL_RECORD_COMPANION_CONTRACT=1``.

Both stores hold the recorded catalog (same ids). Keys are fresh per run.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from onetill.woo import WooClient
from onetill.woo.errors import WooAPIError

NAMESPACE = "wc-onetill/v1"
RECORDING = Path(__file__).parent / "fixtures" / "companion" / "contract.json"
# Order fields the contract relies on (the rest of a wc/v3 order is WooCommerce's own shape).
ORDER_FIELDS = (
    "id",
    "number",
    "status",
    "created_via",
    "date_created_gmt",
    "date_paid_gmt",
    "date_completed_gmt",
    "total",
    "line_items",
    "meta_data",
)


def shape(value: Any) -> Any:
    """Keys and JSON types, values dropped; a list is shaped by its first element."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if value is None:
        return "null"
    return type(value).__name__


def _trim_order(body: Any) -> Any:
    if not isinstance(body, dict) or "line_items" not in body:
        return body
    out = {k: body.get(k) for k in ORDER_FIELDS}
    out["line_items"] = [
        {k: li.get(k) for k in ("product_id", "variation_id", "quantity", "subtotal", "total")}
        for li in body["line_items"]
    ]
    out["meta_data"] = [{"key": m.get("key"), "value": m.get("value")} for m in body["meta_data"]]
    return out


class Recorder:
    """Runs requests and keeps, per step, what the contract compares."""

    def __init__(self, client: WooClient) -> None:
        self.client = client
        self.steps: dict[str, dict[str, Any]] = {}

    async def __call__(
        self,
        step: str,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        authenticate: bool | None = None,
        expect: int | None = None,
    ) -> Any:
        replayed = None
        try:
            r = await self.client.request(
                method,
                path,
                params,
                json=json_body,
                namespace=NAMESPACE,
                headers=headers,
                authenticate=authenticate,
            )
            status, body, code = r.status, r.data, None
            replayed = r.headers.get("idempotent-replayed")
        except WooAPIError as exc:
            status, code = exc.status, exc.code
            body = {"code": exc.code, "message": "", "data": exc.data}
        self.steps[step] = {
            "status": status,
            "code": code,
            "replayed": replayed,
            "shape": shape(_trim_order(body)),
        }
        if expect is not None:
            assert status == expect, (step, status, body)
        return body


async def run(client: WooClient) -> dict[str, dict[str, Any]]:
    """Every route, its usual answers and its errors, in a fixed order."""
    rec = Recorder(client)
    status = await rec("status", "GET", "status", expect=200)
    head = status["journal"]["head"]
    await client.put("products/90", json={"regular_price": "5.55"})
    await client.delete("products/91", {"force": "true"})
    await rec("changes", "GET", "changes", {"after": head, "limit": 100}, expect=200)
    await rec("changes_empty", "GET", "changes", {"after": head + 2}, expect=200)
    await rec("changes_bad_limit", "GET", "changes", {"after": 0, "limit": 1001}, expect=400)
    await rec("changes_no_after", "GET", "changes", expect=400)
    await rec("changes_ahead", "GET", "changes", {"after": head + 1000}, expect=410)
    await rec("changes_epoch", "GET", "changes", {"after": head, "epoch": "0ff"}, expect=410)
    await rec("ids_products", "GET", "ids", {"type": "product", "per_page": 3}, expect=200)
    await rec(
        "ids_variations_after",
        "GET",
        "ids",
        {"type": "variation", "after_id": 0, "per_page": 2},
        expect=200,
    )
    await rec("ids_bad_type", "GET", "ids", {"type": "order"}, expect=400)

    key = str(uuid.uuid4())
    body = {
        "status": "completed",
        "set_paid": True,
        "payment_method": "onetill_cash",
        "payment_method_title": "Cash",
        "created_via": "onetill",
        "line_items": [{"product_id": 92, "quantity": 1, "subtotal": "4.20", "total": "4.20"}],
        "meta_data": [
            {"key": "_onetill_order_uuid", "value": key},
            {"key": "_onetill_sold_at", "value": "2026-01-01T00:00:00.000000Z"},
        ],
    }
    with_key = {"Idempotency-Key": key}
    await rec("order_create", "POST", "orders", json_body=body, headers=with_key, expect=201)
    await rec("order_replay", "POST", "orders", json_body=body, headers=with_key, expect=200)
    other = {**body, "line_items": [{"product_id": 92, "quantity": 2}]}
    await rec("order_reused", "POST", "orders", json_body=other, headers=with_key, expect=422)
    await rec("order_no_key", "POST", "orders", json_body=body, expect=400)
    bad_key = {"Idempotency-Key": "bad"}
    await rec("order_bad_key", "POST", "orders", json_body=body, headers=bad_key, expect=400)
    await rec("by_key", "GET", f"orders/by-key/{key}", expect=200)
    await rec("by_key_unknown", "GET", f"orders/by-key/{uuid.uuid4()}", expect=404)
    await rec("by_uuid", "GET", "orders/by-uuid", {"uuids": f"{key},unknown"}, expect=200)
    await rec("by_uuid_missing", "GET", "orders/by-uuid", expect=400)

    adjust = {"adjustments": [{"id": 93, "delta": 2, "key": f"adj-{key}"}]}
    await rec("stock_adjust", "POST", "stock/adjust", json_body=adjust, expect=200)
    await rec("stock_adjust_replay", "POST", "stock/adjust", json_body=adjust, expect=200)
    reused = {"adjustments": [{"id": 93, "delta": 3, "key": f"adj-{key}"}]}
    await rec("stock_adjust_reused", "POST", "stock/adjust", json_body=reused, expect=422)
    unknown = {"adjustments": [{"id": 999999, "delta": 1, "key": f"adj2-{key}"}]}
    await rec("stock_adjust_refused", "POST", "stock/adjust", json_body=unknown, expect=400)
    bad = {"adjustments": [{"id": 93, "delta": "x", "key": f"adj3-{key}"}]}
    await rec("stock_adjust_invalid", "POST", "stock/adjust", json_body=bad, expect=400)

    hook = {"delivery_url": f"http://127.0.0.1:9/contract-{key}", "secret": "contract-secret"}
    await rec("webhooks_ensure", "POST", "webhooks/ensure", json_body=hook, expect=200)
    await rec("webhooks_again", "POST", "webhooks/ensure", json_body=hook, expect=200)
    await rec(
        "webhooks_no_secret",
        "POST",
        "webhooks/ensure",
        json_body={"delivery_url": hook["delivery_url"]},
        expect=400,
    )
    await rec("anonymous", "GET", "status", authenticate=False, expect=401)
    return rec.steps


def load_recording() -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = json.loads(RECORDING.read_text(encoding="utf-8"))
    return data


def save_recording(steps: dict[str, dict[str, Any]]) -> None:
    RECORDING.write_text(json.dumps(steps, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def differences(expected: dict[str, Any], got: dict[str, Any], who: str) -> list[str]:
    """Steps whose status, error code, replay header or shape differ."""
    out = []
    for step in expected:
        if step not in got:
            out.append(f"{step}: not run by {who}")
            continue
        for field in ("status", "code", "replayed", "shape"):
            if expected[step][field] != got[step][field]:
                out.append(
                    f"{step}.{field}: expected {json.dumps(expected[step][field])[:300]}, "
                    f"{who} gave {json.dumps(got[step][field])[:300]}"
                )
    return out
