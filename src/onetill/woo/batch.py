"""``POST /{resource}/batch``: many writes in few requests, with per-item results.

WooCommerce facts this depends on:

* at most 100 items per request, counting ``create``, ``update`` and
  ``delete`` together (more -> ``413 woocommerce_rest_request_entity_too_large``);
* a partial failure is still HTTP 200: each failed item is
  ``{"id": ..., "error": {code, message, data}}`` in its place;
* batch items skip validation (``stock_quantity: "abc"`` silently became 0),
  so every item is checked against its typed model *before* anything is sent;
* batch ``delete`` is always permanent (no trash).

A batch is a POST: never retried. When a chunk fails, the chunks before it
were applied; the exception carries a note saying how many.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from onetill.woo.errors import (
    AmbiguousWriteError,
    PayloadError,
    UnreadableAnswerError,
    WooAPIError,
)
from onetill.woo.models import OrderCreate, ProductUpdate, decode, encode

if TYPE_CHECKING:
    from onetill.woo.requester import Requester

__all__ = ["BatchItem", "BatchResult", "batch", "plan_chunks"]

MAX_BATCH = 100
Op = Literal["create", "update", "delete"]


@dataclass(frozen=True)
class BatchItem:
    """The store's answer for one item: ``data`` on success, ``error`` on failure.

    ``index`` is the item's position in the caller's ``create``/``update``/
    ``delete`` list.
    """

    op: Op
    index: int
    id: int | None
    data: Any = None
    error: WooAPIError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class BatchResult:
    created: list[BatchItem] = field(default_factory=list)
    updated: list[BatchItem] = field(default_factory=list)
    deleted: list[BatchItem] = field(default_factory=list)
    requests: int = 0

    @property
    def items(self) -> list[BatchItem]:
        return [*self.created, *self.updated, *self.deleted]

    @property
    def errors(self) -> list[BatchItem]:
        return [item for item in self.items if item.error is not None]

    @property
    def ok(self) -> bool:
        return not self.errors


def _models_for(path: str) -> tuple[type[Any] | None, type[Any] | None]:
    """The (create, update) models that validate items for ``path``."""
    clean = path.strip("/")
    if clean == "products" or (clean.startswith("products/") and clean.endswith("/variations")):
        return ProductUpdate, ProductUpdate
    if clean == "orders":
        return OrderCreate, None
    return None, None


def _prepare(op: Op, index: int, item: Any, model: type[Any] | None, what: str) -> Any:
    if isinstance(item, msgspec.Struct):
        item = encode(item)
    if op == "delete":
        if isinstance(item, bool) or not isinstance(item, int):
            raise PayloadError(f"{what}: delete[{index}] must be an integer id, got {item!r}")
        return item
    if not isinstance(item, dict):
        raise PayloadError(f"{what}: {op}[{index}] must be an object, got {type(item).__name__}")
    if op == "update" and (isinstance(item.get("id"), bool) or not isinstance(item.get("id"), int)):
        raise PayloadError(f"{what}: update[{index}] needs an integer 'id'", field="id")
    if model is not None:
        # Validate only: re-encoding the model would add or drop defaults
        # the caller did not write (an order's status decides its stock).
        decode(model, item, what=f"{what} {op}[{index}]")
    return item


def plan_chunks(
    create: list[Any], update: list[Any], delete: list[Any], chunk: int
) -> list[list[tuple[Op, int, Any]]]:
    """Split the items into requests of at most ``chunk`` items, all three kinds counted."""
    flat: list[tuple[Op, int, Any]] = [
        *(("create", i, x) for i, x in enumerate(create)),
        *(("update", i, x) for i, x in enumerate(update)),
        *(("delete", i, x) for i, x in enumerate(delete)),
    ]
    return [flat[start : start + chunk] for start in range(0, len(flat), chunk)]


async def batch(
    client: Requester,
    path: str,
    *,
    create: Iterable[Any] = (),
    update: Iterable[Any] = (),
    delete: Iterable[int] = (),
    chunk: int = MAX_BATCH,
) -> BatchResult:
    """Send the writes in chunks of at most ``chunk`` (<= 100) and collect per-item results.

    Every item is validated first; a bad item raises :class:`PayloadError`
    naming it, and nothing is sent.
    """
    if not 1 <= chunk <= MAX_BATCH:
        raise ValueError(f"chunk must be between 1 and {MAX_BATCH}, got {chunk}")
    what = f"{path.strip('/')}/batch"
    create_model, update_model = _models_for(path)
    creates = [_prepare("create", i, x, create_model, what) for i, x in enumerate(create)]
    updates = [_prepare("update", i, x, update_model, what) for i, x in enumerate(update)]
    deletes = [_prepare("delete", i, x, None, what) for i, x in enumerate(delete)]

    result = BatchResult()
    for planned in plan_chunks(creates, updates, deletes, chunk):
        body: dict[str, list[Any]] = {}
        for op, _index, payload in planned:
            body.setdefault(op, []).append(payload)
        try:
            response = await client.post(what, json=body)
        except Exception as exc:
            if result.requests:
                exc.add_note(
                    f"{len(result.items)} earlier items of this batch were already applied"
                )
            raise
        result.requests += 1
        try:
            _collect(result, planned, response.data, what)
        except UnreadableAnswerError as exc:
            # The request went through: its items may all have been applied.
            raise AmbiguousWriteError(
                f"POST {what} answered HTTP {response.status} but the answer does not account "
                f"for every item ({exc.message})",
                url=response.url,
                status=response.status,
            ) from exc
    return result


def _collect(result: BatchResult, planned: list[tuple[Op, int, Any]], data: Any, what: str) -> None:
    if not isinstance(data, dict):
        raise UnreadableAnswerError(
            f"{what}: expected an object with create/update/delete, got {str(data)[:120]!r}"
        )
    answers = {op: list(data.get(op) or []) for op in ("create", "update", "delete")}
    positions = {"create": 0, "update": 0, "delete": 0}
    targets = {"create": result.created, "update": result.updated, "delete": result.deleted}
    for op, index, _payload in planned:
        answer_list = answers[op]
        position = positions[op]
        positions[op] += 1
        answer = answer_list[position] if position < len(answer_list) else None
        if not isinstance(answer, dict):
            raise UnreadableAnswerError(f"{what}: the store gave no answer for {op}[{index}]")
        raw_id = answer.get("id")
        item_id = raw_id if isinstance(raw_id, int) and not isinstance(raw_id, bool) else None
        error = answer.get("error")
        if isinstance(error, dict):
            # PHP encodes an empty error data array as [] and may put a list there.
            details = error.get("data")
            status = details.get("status", 400) if isinstance(details, dict) else 400
            code = str(error.get("code", ""))
            message = str(error.get("message", ""))
            err = WooAPIError(
                f"{op}[{index}] failed: {code}: {message}",
                status=int(status) if isinstance(status, int) else 400,
                code=code,
                data=error.get("data"),
                method="POST",
                url=what,
            )
            targets[op].append(BatchItem(op, index, item_id, answer, err))
        else:
            targets[op].append(BatchItem(op, index, item_id, answer))
