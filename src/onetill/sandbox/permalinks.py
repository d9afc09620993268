"""Slugs and permalinks as WordPress 7 makes them for products and variations.

Facts (recorded on the real store):
- a product not yet public (draft, pending, future, auto-draft) or in the
  trash has the plain link ``/?post_type=product&p=ID``; others the pretty
  ``/product/<slug>/``;
- a draft never published has the slug ``""``; ``generated_slug`` (edit
  context) is always made from the current name, unique among products;
- trashing renames the slug to ``<slug>__trashed`` and adds the meta
  ``_wp_trash_meta_status``, ``_wp_trash_meta_time`` and
  ``_wp_desired_post_slug``; a REST restore (``status: publish``) gives the
  slug back and drops ``_wp_desired_post_slug``, but the other two stay;
- a variation's link is its parent's with ``?attribute_<name>=<option>``.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from .records import PRODUCT, Item

if TYPE_CHECKING:
    from .state import SandboxStore

__all__ = [
    "generated_slug",
    "permalink",
    "restore_from_trash",
    "sanitize_title",
    "to_trash",
    "unique_slug",
    "variation_title",
]

_PLAIN = ("draft", "pending", "future", "auto-draft", "trash")
_TRASHED = "__trashed"


def sanitize_title(text: str) -> str:
    """WordPress's ``sanitize_title`` (save context): accents removed, other non-ASCII
    characters percent-encoded (``✓`` -> ``%e2%9c%93``), lower case, dots and spaces
    to dashes, anything else dropped."""
    plain = "".join(
        c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
    ).lower()
    plain = re.sub(r"<[^>]*>", "", plain)
    plain = re.sub(r"%(?![0-9a-f]{2})", "", plain)
    encoded = "".join(
        c if ord(c) < 128 else "".join(f"%{b:02x}" for b in c.encode("utf-8")) for c in plain
    )
    encoded = re.sub(r"&.+?;", "", encoded).replace(".", "-")
    encoded = re.sub(r"[^%a-z0-9 _-]", "", encoded)
    encoded = re.sub(r"\s+", "-", encoded)
    return re.sub(r"-+", "-", encoded).strip("-")


def unique_slug(store: SandboxStore, wanted: str, item_id: int) -> str:
    """``wp_unique_post_slug``: ``-2``, ``-3`` ... until no other product has it."""
    taken = {str(p.data.get("slug", "")) for p in store.products.values() if p.id != item_id}
    slug, n = wanted, 2
    while slug in taken:
        slug, n = f"{wanted}-{n}", n + 1
    return slug


def generated_slug(store: SandboxStore, item: Item) -> str:
    """``get_sample_permalink($id, $name, '')``: the slug the current name makes (unique
    among products), whatever the slug now is."""
    slug = unique_slug(store, sanitize_title(str(item.data.get("name", ""))), item.id)
    return unquote(slug)  # shown decoded: "unicode-✓", stored "unicode-%e2%9c%93"


def permalink(store: SandboxStore, item: Item) -> str:
    home = store.config.home_url
    if item.kind == PRODUCT:
        if item.data.get("status") in _PLAIN:
            return f"{home}/?post_type=product&p={item.id}"
        return f"{home}/product/{item.data.get('slug', '')}/"
    parent = store.products.get(item.data["parent_id"])
    base = permalink(store, parent) if parent is not None else f"{home}/"
    attrs = "&".join(
        f"attribute_{_attr_key(a)}={a.get('option', '')}" for a in item.data.get("attributes", [])
    )
    if not attrs:
        return base
    return base + ("&" if "?" in base else "?") + attrs


def _attr_key(attr: dict[str, Any]) -> str:
    return str(attr.get("slug") or sanitize_title(str(attr.get("name", ""))))


def variation_title(store: SandboxStore, item: Item) -> str:
    """A variation's post title: ``Parent - option, option``."""
    parent = store.products.get(int(item.data.get("parent_id", 0)))
    title = str(parent.data.get("name", "")) if parent is not None else ""
    options = ", ".join(str(a.get("option", "")) for a in item.data.get("attributes", []))
    return f"{title} - {options}" if options and title else title or options


def to_trash(store: SandboxStore, item: Item, previous: str) -> None:
    """The slug and meta WordPress writes when a post goes to the trash."""
    if item.kind == PRODUCT:
        slug = str(item.data.get("slug", ""))
    else:
        slug = sanitize_title(variation_title(store, item))
    meta = item.data.setdefault("meta_data", [])
    entries = [("_wp_trash_meta_status", previous), ("_wp_trash_meta_time", str(store.now()))]
    if slug:
        entries.append(("_wp_desired_post_slug", slug))
        if item.kind == PRODUCT:
            item.data["slug"] = slug + _TRASHED
    for key, value in entries:
        meta[:] = [m for m in meta if m.get("key") != key]
        meta.append({"id": store.next_id("item_meta"), "key": key, "value": value})


def restore_from_trash(item: Item) -> None:
    """A REST status change out of the trash: the slug comes back, the rest of the meta stays."""
    slug = str(item.data.get("slug", ""))
    if slug.endswith(_TRASHED):
        item.data["slug"] = slug[: -len(_TRASHED)]
    meta = item.data.get("meta_data") or []
    item.data["meta_data"] = [m for m in meta if m.get("key") != "_wp_desired_post_slug"]
