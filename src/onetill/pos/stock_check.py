"""Whether the till may sell a quantity of an item, as far as its local stock knows.

The till's stock is the store's last word minus sales not yet uploaded, so
it can be behind (goods received online) or ahead (an online sale not yet
polled). WooCommerce wins on reconcile. The rules the till screen applies
before an item goes into the cart, and again when the sale is recorded:

- stock not managed: sellable unless WooCommerce marks it out of stock;
- managed, enough on hand: fine;
- managed, not enough, and the store's "allow backorders" is ``no``: refused
  (the merchant said not to sell what the shop does not have);
- managed, not enough, backorders allowed (``notify``/``yes``): the cashier
  confirms (the store may have more; WooCommerce's count wins on reconcile).

The till's own ``out_of_stock`` setting ``allow`` turns every check off;
``block`` refuses instead of asking.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from onetill.pos.cart import CartLine

__all__ = ["StockVerdict", "check_lines"]

Verdict = Literal["ok", "confirm", "refuse"]


@dataclass(frozen=True)
class StockVerdict:
    """What to do about one cart line: ``ok``, ``confirm`` (ask first) or ``refuse``."""

    item_id: int
    verdict: Verdict
    message: str = ""
    on_hand: int | None = None


def _label(line: CartLine) -> str:
    return line.name or line.sku or f"item {line.item_id}"


def check_lines(lines: Iterable[CartLine], *, policy: str = "warn") -> list[StockVerdict]:
    """One verdict per line; quantities of lines sharing a stock row are added up."""
    lines = list(lines)
    if policy == "allow":
        return [StockVerdict(line.item_id, "ok") for line in lines]
    wanted: dict[int, int] = {}
    for line in lines:
        wanted[line.stock_item_id] = wanted.get(line.stock_item_id, 0) + line.quantity
    out: list[StockVerdict] = []
    for line in lines:
        if not line.manages_stock:
            if line.stock_status == "outofstock":
                out.append(StockVerdict(
                    line.item_id, "refuse",
                    f"{_label(line)} is out of stock (marked so in WooCommerce); nothing added",
                ))  # fmt: skip
            else:
                out.append(StockVerdict(line.item_id, "ok"))
            continue
        have = line.stock_quantity or 0
        need = wanted[line.stock_item_id]
        if need <= have:
            out.append(StockVerdict(line.item_id, "ok", on_hand=have))
        elif line.backorders == "no":
            text = (
                f"{_label(line)} is out of stock" if have <= 0
                else f"only {have} of {_label(line)} in stock"
            )
            out.append(StockVerdict(
                line.item_id, "refuse",
                f"{text}, and the store does not allow backorders; nothing added",
                on_hand=have,
            ))  # fmt: skip
        elif policy == "block":
            out.append(StockVerdict(
                line.item_id, "refuse",
                f"only {max(have, 0)} of {_label(line)} in stock, and this till is set to "
                "refuse such sales; nothing added",
                on_hand=have,
            ))  # fmt: skip
        else:
            out.append(StockVerdict(
                line.item_id, "confirm",
                f"the till shows {max(have, 0)} of {_label(line)} in stock and this sale needs "
                f"{need}. The store allows backorders and may have more; WooCommerce's count "
                "wins when the sale is uploaded. Sell anyway?",
                on_hand=have,
            ))  # fmt: skip
    return out
