"""A deterministic, realistic catalog: ``--products N --variable M --seed S``.

Names, SKUs, EAN-13 barcodes in ``global_unique_id``, categories, regular and
sale prices (some with a sale window), stock including 0 and unmanaged, both
tax classes, a few drafts, and variable products with 2-6 variations of which
some keep stock on the parent (``manage_stock: "parent"``). The same seed
always gives the same store. Built with shallow copies so 100,000 products
load in well under 10 seconds.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from . import defaults
from .records import PRODUCT, VARIATION, Item

if TYPE_CHECKING:
    from .state import SandboxStore

__all__ = ["ean13", "generate"]

_ADJECTIVES = (
    "Organic",
    "Classic",
    "Fresh",
    "Premium",
    "Smoky",
    "Crispy",
    "Golden",
    "Wild",
    "Dark",
    "Sparkling",
    "Rustic",
    "Spicy",
    "Sweet",
    "Nordic",
    "Alpine",
    "Urban",
)
_NOUNS = {
    16: ("Coffee", "Tea", "Lemonade", "Cola", "Juice", "Water", "Beer", "Cider"),
    17: ("Crackers", "Chips", "Pretzels", "Cookies", "Nuts", "Chocolate", "Popcorn"),
    18: ("Candle", "Sponge", "Mug", "Towel", "Soap", "Brush", "Basket"),
    19: ("T-Shirt", "Hoodie", "Cap", "Scarf", "Socks", "Jacket"),
    20: ("Cable", "Charger", "Earbuds", "Lamp", "Speaker", "Adapter"),
}
_SIZES = ("XS", "S", "M", "L", "XL", "XXL")
_CATEGORY_NAMES = {16: "Beverages", 17: "Snacks", 18: "Household", 19: "Apparel", 20: "Electronics"}


def ean13(n: int) -> str:
    """A valid EAN-13 (prefix 400: Germany) for ``n``."""
    body = f"400{n:09d}"[-12:]
    total = sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(body))
    return body + str((10 - total % 10) % 10)


def _fresh(template: dict[str, Any]) -> dict[str, Any]:
    # Shallow: empty lists/dicts are shared until a write replaces them; meta_data is the one
    # container the store appends to in place, so it is always new.
    d = dict(template)
    d["meta_data"] = []
    return d


def generate(store: SandboxStore, products: int, variable: int, seed: int) -> None:
    """Append ``products`` simple and ``variable`` variable products to ``store``."""
    rng = random.Random(seed)
    now = store.now()
    base = now - 30 * 86400
    ptemplate = defaults.product_template()
    vtemplate = defaults.variation_template()
    used_cats = {c["id"] for c in store.categories}
    cats: list[int | None] = [c for c in _CATEGORY_NAMES if c in used_cats] or [None]
    for n in range(1, products + 1):
        pid = store.next_id("post")
        cat = cats[(n * 7 + rng.randrange(5)) % len(cats)]
        noun = rng.choice(_NOUNS.get(cat or 16, _NOUNS[16]))
        name = f"{rng.choice(_ADJECTIVES)} {noun} {n:05d}"
        d = _fresh(ptemplate)
        regular = f"{rng.randrange(99, 9999) / 100:.2f}"
        d.update(
            name=name,
            slug=name.lower().replace(" ", "-"),
            sku=f"SKU-{n:06d}",
            global_unique_id=ean13(n),
            regular_price=regular,
            tax_class="reduced-rate" if cat in (16, 17) else "",
            categories=[
                {"id": cat, "name": _CATEGORY_NAMES[cat], "slug": _CATEGORY_NAMES[cat].lower()}
            ]
            if cat
            else [],
            status="draft" if n % 50 == 0 else "publish",
        )
        meta: dict[str, Any] = {"sale_from": None, "sale_to": None}
        if n % 12 == 0:
            d["sale_price"] = f"{float(regular) * 0.8:.2f}"
            if n % 36 == 0:
                meta["sale_from"] = now - 86400
                meta["sale_to"] = now + 7 * 86400
            elif n % 60 == 0:
                meta["sale_from"] = now + 86400  # a sale that has not started yet
            elif n % 84 == 0:
                meta["sale_from"] = now - 10 * 86400  # a sale that is over
                meta["sale_to"] = now - 86400
        if n % 7 == 0:
            d["manage_stock"] = False  # unmanaged stock
        else:
            d["manage_stock"] = True
            d["stock_quantity"] = 0 if n % 20 == 0 else rng.randrange(1, 250)
        created = base + n // 10
        store.products[pid] = Item(PRODUCT, pid, d, created, created, meta)
    for m in range(1, variable + 1):
        _variable(store, rng, m, base + products // 10 + m, ptemplate, vtemplate)


def _variable(
    store: SandboxStore,
    rng: random.Random,
    m: int,
    created: int,
    ptemplate: dict[str, Any],
    vtemplate: dict[str, Any],
) -> None:
    pid = store.next_id("post")
    count = rng.randrange(2, 7)
    sizes = list(_SIZES[:count]) if count < 6 else list(_SIZES)
    parent_managed = m % 5 == 0
    name = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS[19])} V{m:04d}"
    d = _fresh(ptemplate)
    d.update(
        name=name,
        slug=name.lower().replace(" ", "-"),
        type="variable",
        sku=f"VAR-{m:05d}",
        categories=[{"id": 19, "name": "Apparel", "slug": "apparel"}],
        attributes=[
            {
                "id": 0,
                "name": "Size",
                "slug": "Size",
                "position": 0,
                "visible": True,
                "variation": True,
                "options": sizes,
            }
        ],
        manage_stock=parent_managed,
        stock_quantity=rng.randrange(5, 100) if parent_managed else None,
    )
    store.products[pid] = Item(
        PRODUCT, pid, d, created, created, {"sale_from": None, "sale_to": None}
    )
    kids = store.children.setdefault(pid, [])
    base_price = rng.randrange(1000, 8000) / 100
    for i, size in enumerate(sizes):
        vid = store.next_id("post")
        v = _fresh(vtemplate)
        v.update(
            parent_id=pid,
            name=size,
            sku=f"VAR-{m:05d}-{size}",
            global_unique_id=ean13(5_000_000 + vid),
            regular_price=f"{base_price + i:.2f}",
            attributes=[{"id": 0, "name": "Size", "slug": "size", "option": size}],
            manage_stock=not parent_managed,
            stock_quantity=None
            if parent_managed
            else (0 if (m + i) % 9 == 0 else rng.randrange(1, 60)),
        )
        store.variations[vid] = Item(
            VARIATION, vid, v, created, created, {"sale_from": None, "sale_to": None}
        )
        kids.append(vid)
