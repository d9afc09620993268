"""``price_html``: the shop's price markup, as ``get_price_html()`` builds it in WooCommerce 11.

Facts (recorded on the real store, prices entered incl. tax, shown excl.):
- the shown price is ``wc_get_price_to_display``: with ``woocommerce_tax_display_shop
  = excl`` and prices entered with tax, the base-rate tax is taken out;
- ``wc_price``: currency symbol by ``woocommerce_currency_pos``, the store's
  decimals and separators, wrapped in ``woocommerce-Price-amount`` spans;
- on sale: ``<del>`` regular, ``<ins>`` sale, with screen-reader texts;
- a variable product: the range of its visible variations' shown prices
  (each rounded to the price decimals first), or a single price;
- no price: ``""``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from . import catalog, tax
from .records import PRODUCT, Item

if TYPE_CHECKING:
    from .state import SandboxStore

__all__ = ["price_html"]

_SYMBOLS = {"EUR": "&euro;", "USD": "&#36;", "GBP": "&pound;", "CHF": "CHF", "JPY": "&yen;"}


def _decimals(store: SandboxStore) -> int:
    try:
        return int(store.setting("woocommerce_price_num_decimals", "2"))
    except ValueError:
        return 2


def _number(store: SandboxStore, amount: Decimal) -> str:
    dp = _decimals(store)
    rounded = amount.quantize(Decimal(1).scaleb(-dp), rounding=ROUND_HALF_UP)
    whole, _, frac = f"{abs(rounded):.{dp}f}".partition(".")
    groups: list[str] = []
    while len(whole) > 3:
        whole, groups = whole[:-3], [whole[-3:], *groups]
    thousands = store.setting("woocommerce_price_thousand_sep", ",")
    text = thousands.join([whole, *groups])
    if dp:
        text += store.setting("woocommerce_price_decimal_sep", ".") + frac
    return ("-" if rounded < 0 else "") + text


def _with_symbol(store: SandboxStore, number: str) -> tuple[str, str]:
    """The amount with its symbol, as HTML (``<span>``) and as plain text."""
    symbol = _SYMBOLS.get(store.setting("woocommerce_currency", "EUR"), "")
    span = f'<span class="woocommerce-Price-currencySymbol" translate="no">{symbol}</span>'
    position = store.setting("woocommerce_currency_pos", "left")
    html, text = {
        "left": (span + number, symbol + number),
        "right": (number + span, number + symbol),
        "left_space": (span + "&nbsp;" + number, symbol + "&nbsp;" + number),
        "right_space": (number + "&nbsp;" + span, number + "&nbsp;" + symbol),
    }.get(position, (span + number, symbol + number))
    return html, text


def _wc_price(store: SandboxStore, amount: Decimal, *, hidden: bool = False) -> tuple[str, str]:
    html, text = _with_symbol(store, _number(store, amount))
    aria = ' aria-hidden="true"' if hidden else ""
    return f'<span class="woocommerce-Price-amount amount"{aria}><bdi>{html}</bdi></span>', text


def _shown(store: SandboxStore, item: Item, price: str) -> Decimal:
    """``wc_get_price_to_display`` for one unit at ``price``."""
    amount = Decimal(price)
    taxable = item.data.get("tax_status", "taxable") == "taxable"
    including = store.setting("woocommerce_tax_display_shop", "excl") == "incl"
    if not taxable or including == tax.prices_include_tax(store):
        return amount
    tax_class = str(item.data.get("tax_class", ""))
    if tax_class == "parent":
        parent = store.products.get(int(item.data.get("parent_id", 0)))
        tax_class = str(parent.data.get("tax_class", "")) if parent else ""
    rates = tax.base_rates(store, tax_class)
    if including:
        return amount + sum(tax.calc_exclusive(amount, rates).values(), Decimal(0))
    return tax.net_line_price(store, price, 1, tax_class, taxable)


def _sale(store: SandboxStore, regular: Decimal, sale: Decimal) -> str:
    was_html, was = _wc_price(store, regular)
    now_html, now = _wc_price(store, sale)
    return (
        f'<del aria-hidden="true">{was_html}</del> '
        f'<span class="screen-reader-text">Original price was: {was}.</span>'
        f'<ins aria-hidden="true">{now_html}</ins>'
        f'<span class="screen-reader-text">Current price is: {now}.</span>'
    )


def _variable(store: SandboxStore, item: Item, now: int) -> str:
    dp = Decimal(1).scaleb(-_decimals(store))
    prices, regulars, on_sale = [], [], False
    for vid in store.children.get(item.id, []):
        var = store.variations[vid]
        price = catalog.active_price(store, var, now)
        if var.data.get("status") != "publish" or price == "":
            continue
        prices.append(_shown(store, var, price).quantize(dp, rounding=ROUND_HALF_UP))
        regular = str(var.data.get("regular_price") or price)
        regulars.append(_shown(store, var, regular).quantize(dp, rounding=ROUND_HALF_UP))
        on_sale = on_sale or catalog.is_on_sale(store, var, now)
    if not prices:
        return ""
    low, high = min(prices), max(prices)
    if low != high:
        low_html, low_text = _wc_price(store, low, hidden=True)
        high_html, high_text = _wc_price(store, high, hidden=True)
        return (
            f'{low_html} <span aria-hidden="true">&ndash;</span> {high_html}'
            f'<span class="screen-reader-text">Price range: {low_text} through {high_text}</span>'
        )
    if on_sale and min(regulars) == max(regulars):
        return _sale(store, max(regulars), low)
    return _wc_price(store, low)[0]


def price_html(store: SandboxStore, item: Item, now: int) -> str:
    """The ``price_html`` of a product or variation (no price suffix is configured)."""
    if item.kind == PRODUCT and item.data.get("type") == "variable":
        return _variable(store, item, now)
    price = catalog.active_price(store, item, now)
    if price == "":
        return ""
    if catalog.is_on_sale(store, item, now):
        regular = str(item.data.get("regular_price") or price)
        return _sale(store, _shown(store, item, regular), _shown(store, item, price))
    return _wc_price(store, _shown(store, item, price))[0]
