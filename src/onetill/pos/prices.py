"""The price a product sells for right now: its sale price inside the sale window, else regular.

WooCommerce stores a sale window as local dates in the site's timezone (the
sale starts at 00:00:00 of the first day and ends at 23:59:59 of the last,
site time) and also returns them as naive UTC (``date_on_sale_*_gmt``). The
till keeps the UTC form; ``price`` synced from the store reflects the
window at sync time only, so a till that has been offline across a window
edge must decide again, here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["PriceError", "current_price", "on_sale"]


class PriceError(ValueError):
    """The product has no usable price (say which and what to do)."""


def _money(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def _bound(raw: Any, local_raw: Any, tz: ZoneInfo, end: bool) -> datetime | None:
    """A window edge as aware UTC, from the ``_gmt`` value, else the local date."""
    if raw:
        return datetime.fromisoformat(str(raw).rstrip("Z")).replace(tzinfo=UTC)
    if local_raw:
        local = datetime.fromisoformat(str(local_raw))
        if len(str(local_raw)) <= 10:  # a bare date: the whole day, site time
            local = datetime.combine(local.date(), time(23, 59, 59) if end else time(0, 0, 0))
        return local.replace(tzinfo=tz).astimezone(UTC)
    return None


def on_sale(product: Mapping[str, Any], now: datetime, timezone: str = "UTC") -> bool:
    """Whether the sale price applies at ``now`` (aware)."""
    if _money(product.get("sale_price")) is None:
        return False
    tz = ZoneInfo(timezone or "UTC")
    raw = product.get("raw_dates") or {}
    start = _bound(product.get("sale_from_gmt"), raw.get("date_on_sale_from"), tz, end=False)
    stop = _bound(product.get("sale_to_gmt"), raw.get("date_on_sale_to"), tz, end=True)
    moment = now.astimezone(UTC)
    if start is not None and moment < start:
        return False
    return not (stop is not None and moment > stop)


def current_price(product: Mapping[str, Any], now: datetime, timezone: str = "UTC") -> Decimal:
    """The unit price to charge at ``now``: sale price in its window, else regular.

    Falls back to WooCommerce's ``price`` when no regular price is set.
    Raises :class:`PriceError` for a product with no price at all.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if on_sale(product, now, timezone):
        sale = _money(product.get("sale_price"))
        if sale is not None:
            return sale
    regular = _money(product.get("regular_price"))
    if regular is not None:
        return regular
    fallback = _money(product.get("price"))
    if fallback is not None:
        return fallback
    raise PriceError(
        f"product {product.get('id')} ({product.get('sku') or product.get('name') or '?'}) "
        "has no price; set one in WooCommerce and sync"
    )
