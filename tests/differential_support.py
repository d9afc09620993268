"""Differential testing, sandbox vs the real WooCommerce: one exchange, normalised and compared.

The same REST request goes to both stores; the answers must agree in status,
error code, the headers the till reads and every field value, once what
legitimately differs between two runs is normalised away:

- dates and times (``date_*`` fields, trash timestamps in ``meta_data``):
  the two stores were not written in the same second;
- ``meta_data[].id``: meta rows share a table-wide sequence with everything
  else WordPress stores, so their numbers say nothing;
- ``order_key`` (random) and the key inside ``payment_url``;
- ``related_ids``: WooCommerce shuffles them on every read;
- ``oauth_*`` parameters echoed in ``Link`` URLs (a fresh nonce each time).

Everything else is compared verbatim, ids included: after a reset the real
store hands out the ids the sandbox does (first new post 411).

A sequence of exchanges recorded from the real store is kept as a fixture
(``tests/fixtures/differential/*.json``) for every difference found and
fixed; ``tests/sandbox/test_differential_fixtures.py`` replays each one on
a fresh sandbox, so the difference cannot come back.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from support import FIXTURES

__all__ = [
    "DIFFERENTIAL",
    "HEADERS",
    "Answer",
    "Exchange",
    "Request",
    "compare",
    "load_sequence",
    "normalise",
    "save_sequence",
]

DIFFERENTIAL = FIXTURES / "differential"
API = "/wp-json/wc/v3/"
# The headers the till reads (paging, the cursor's clock, JSON or not, where a new
# object lives); Date is compared for presence only.
HEADERS = ("x-wp-total", "x-wp-totalpages", "link", "content-type", "location", "retry-after")
_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
_TIME_META = {"_wp_trash_meta_time"}
_KEY = re.compile(r"wc_order_[A-Za-z0-9]+")


@dataclass
class Request:
    """One REST request below ``/wp-json/wc/v3/``."""

    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    json: Any = None

    def describe(self) -> str:
        query = f"?{urlencode(self.params)}" if self.params else ""
        body = f" {json.dumps(self.json)[:300]}" if self.json is not None else ""
        return f"{self.method} {self.path}{query}{body}"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any

    @classmethod
    def of(cls, response: Any) -> Answer:
        """From an ``httpx2.Response``: the headers the till reads, the JSON body (or text)."""
        headers = {h: response.headers[h] for h in HEADERS if h in response.headers}
        if "date" in response.headers:
            headers["date"] = "<present>"
        try:
            body = response.json()
        except ValueError:
            body = response.text[:500]
        return cls(response.status_code, headers, body)


@dataclass
class Exchange:
    request: Request
    response: Answer


def _link(value: str) -> str:
    """``Link`` with the ``oauth_*`` parameters taken out of every URL."""
    parts = []
    for piece in value.split(","):
        match = re.match(r"\s*<([^>]*)>(.*)", piece)
        if match is None:
            parts.append(piece.strip())
            continue
        url, rest = match.groups()
        split = urlsplit(url)
        query = [
            (k, v)
            for k, v in parse_qsl(split.query, keep_blank_values=True)
            if not k.startswith("oauth_")
        ]
        clean = urlunsplit(split._replace(query=urlencode(query)))
        parts.append(f"<{clean}>{rest}")
    return ", ".join(parts)


def normalise(value: Any, key: str = "") -> Any:
    """``value`` with what may differ between two runs replaced by placeholders."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k == "related_ids":
                continue
            if k == "meta_data" and isinstance(v, list):
                out[k] = [_meta(m) for m in v]
            elif k == "error" and key == "data":
                out[k] = _php_error(v)
            else:
                out[k] = normalise(v, k)
        return out
    if isinstance(value, list):
        return [normalise(v, key) for v in value]
    if isinstance(value, str):
        if key.startswith("date_") and _DATE.match(value):
            return "<date>"
        if key in ("order_key", "payment_url", "key"):
            return _KEY.sub("<order_key>", value)
    return value


_PHP_PATH = re.compile(r"\S*?/(wp-content|wp-includes|wp-admin)/")


def _php_error(error: Any) -> Any:
    """A PHP error's message up to where it happened, paths from the web root."""
    if not isinstance(error, dict):
        return error
    out = dict(error)
    message = str(out.get("message", ""))
    out["message"] = _PHP_PATH.sub(r"<root>/\1/", message.split("\nStack trace:")[0])
    out["message"] = re.sub(r"(\.php):\d+$", r"\1", out["message"])
    if "file" in out:
        out["file"] = _PHP_PATH.sub(r"<root>/\1/", str(out["file"]))
    return out


def _meta(entry: Any) -> Any:
    if not isinstance(entry, dict):
        return normalise(entry)
    out = normalise({k: v for k, v in entry.items() if k != "id"})
    if "id" in entry:
        out["id"] = "<meta-id>"
    if entry.get("key") in _TIME_META:
        out["value"] = "<time>"
    return out


def normal_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: _link(v) if k == "link" else v for k, v in headers.items()}


def _walk(real: Any, sandbox: Any, path: str, out: list[str]) -> None:
    if isinstance(real, dict) and isinstance(sandbox, dict):
        for k in sorted(set(real) | set(sandbox), key=str):
            if k not in sandbox:
                out.append(f"{path}.{k}: only the real store has it: {_show(real[k])}")
            elif k not in real:
                out.append(f"{path}.{k}: only the sandbox has it: {_show(sandbox[k])}")
            else:
                _walk(real[k], sandbox[k], f"{path}.{k}", out)
        return
    if isinstance(real, list) and isinstance(sandbox, list) and len(real) == len(sandbox):
        for i, (r, s) in enumerate(zip(real, sandbox, strict=True)):
            _walk(r, s, f"{path}[{i}]", out)
        return
    if real != sandbox or type(real) is not type(sandbox):
        out.append(f"{path}: real {_show(real)}, sandbox {_show(sandbox)}")


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 160 else text[:157] + "..."


def compare(real: Answer, sandbox: Answer) -> list[str]:
    """Every way the sandbox's answer differs from the real store's (empty when they agree)."""
    out: list[str] = []
    if real.status != sandbox.status:
        out.append(f"status: real {real.status}, sandbox {sandbox.status}")
    rh, sh = normal_headers(real.headers), normal_headers(sandbox.headers)
    for name in sorted(set(rh) | set(sh)):
        if rh.get(name) != sh.get(name):
            out.append(f"header {name}: real {rh.get(name)!r}, sandbox {sh.get(name)!r}")
    _walk(normalise(real.body), normalise(sandbox.body), "$", out)
    return out


def save_sequence(path: Path, note: str, exchanges: list[Exchange]) -> None:
    """Write a recorded sequence as a fixture (``oauth_*`` already gone from ``Link``)."""
    steps = []
    for ex in exchanges:
        answer = asdict(ex.response)
        answer["headers"] = normal_headers(answer["headers"])
        steps.append({"request": asdict(ex.request), "response": answer})
    data = {"note": note, "recorded_on": "WordPress 7.0.4 + WooCommerce 11.0.1", "steps": steps}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def load_sequence(path: Path) -> tuple[str, list[Exchange]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    exchanges = [
        Exchange(Request(**step["request"]), Answer(**step["response"])) for step in data["steps"]
    ]
    return data["note"], exchanges
