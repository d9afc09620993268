"""What a store is and offers, found from its URL.

* ``GET /wp-json/`` (no keys; since WooCommerce 11.1 non-``wc`` routes answer
  keys with 401) lists the REST namespaces (``wc/v3``, the companion plugin's
  ``wc-onetill/v1``), the site's home URL, ``timezone_string`` and
  ``gmt_offset``.
* ``GET /wc/v3/variations`` (global variations, WooCommerce 10.3+) either
  answers or is ``rest_no_route``.
* ``GET /wc/v3/system_status?_fields=environment`` gives the WooCommerce
  version when the key's user may read it (optional).
* With plain permalinks ``/wp-json/`` is a 404 page while
  ``/?rest_route=/`` works: that case is named so the merchant can fix it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from onetill.woo.errors import ResponseError, TransportError

if TYPE_CHECKING:
    from onetill.woo.requester import Requester

__all__ = ["PLUGIN_NAMESPACE", "Discovery", "discover", "timezone_name"]

PLUGIN_NAMESPACE = "wc-onetill/v1"
_INDEX_FIELDS = "name,home,url,namespaces,gmt_offset,timezone_string"


@dataclass(frozen=True)
class Discovery:
    """What :func:`discover` found. ``problem`` explains ``wordpress``/``wc_v3`` being False."""

    url: str
    wordpress: bool
    wc_v3: bool
    plugin: bool
    timezone: str
    gmt_offset: float
    https: bool
    global_variations: bool
    wc_version: str | None
    home: str | None = None
    name: str = ""
    namespaces: list[str] = field(default_factory=list)
    problem: str = ""


def timezone_name(timezone_string: str, gmt_offset: float) -> str:
    """An IANA name for the site's zone.

    WordPress leaves ``timezone_string`` empty when the site uses a manual
    offset ("UTC+2"): whole hours map to ``Etc/GMT-2`` (POSIX signs are
    reversed), other offsets to ``+05:30`` style text.
    """
    if timezone_string:
        return timezone_string
    if gmt_offset == 0:
        return "UTC"
    if float(gmt_offset).is_integer():
        return f"Etc/GMT{-int(gmt_offset):+d}"
    minutes = round(abs(gmt_offset) * 60)
    sign = "+" if gmt_offset > 0 else "-"
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _offset(raw: Any) -> float:
    try:
        return float(raw)
    except (TypeError, ValueError):
        return 0.0


async def discover(client: Requester) -> Discovery:
    """Probe the store.

    Raises :class:`TransportError` when it cannot be reached at all, and
    the :class:`ResponseError` when ``/wp-json/`` keeps answering a server
    error or 429 (a failing or overloaded site is not "not WordPress").
    """
    try:
        index = await client.request("GET", "", {"_fields": _INDEX_FIELDS}, namespace="")
        data = index.data if isinstance(index.data, dict) else {}
    except ResponseError as exc:  # a TransportError is not one: it propagates
        if exc.status >= 500 or exc.status == 429:
            raise
        return _not_wordpress(client, await _diagnose(client, exc))
    if "namespaces" not in data:
        return _not_wordpress(client, "/wp-json/ answered JSON without a namespace list")

    namespaces = [str(n) for n in data.get("namespaces") or []]
    gmt_offset = _offset(data.get("gmt_offset"))
    tz = timezone_name(str(data.get("timezone_string") or ""), gmt_offset)
    wc_v3 = "wc/v3" in namespaces
    problem = (
        ""
        if wc_v3
        else (
            "WordPress answers but wc/v3 is not among its REST namespaces: "
            "is WooCommerce installed and active?"
        )
    )
    global_variations = False
    wc_version: str | None = None
    if wc_v3:
        global_variations = await _has_global_variations(client)
        wc_version = await _wc_version(client)
    return Discovery(
        url=client.url,
        wordpress=True,
        wc_v3=wc_v3,
        plugin=PLUGIN_NAMESPACE in namespaces,
        timezone=tz,
        gmt_offset=gmt_offset,
        https=client.https,
        global_variations=global_variations,
        wc_version=wc_version,
        home=str(data["home"]) if data.get("home") else None,
        name=str(data.get("name") or ""),
        namespaces=namespaces,
        problem=problem,
    )


def _not_wordpress(client: Requester, problem: str) -> Discovery:
    return Discovery(
        url=client.url,
        wordpress=False,
        wc_v3=False,
        plugin=False,
        timezone="UTC",
        gmt_offset=0.0,
        https=client.https,
        global_variations=False,
        wc_version=None,
        problem=problem,
    )


async def _diagnose(client: Requester, exc: ResponseError) -> str:
    """Why ``/wp-json/`` did not answer like WordPress."""
    if 300 <= exc.status < 400:
        return f"{exc.message}: {exc.hint}"
    if exc.status in (401, 403):
        return (
            f"/wp-json/ is blocked (HTTP {exc.status}): a security plugin, firewall or "
            "login wall stands in front of the REST API; allow /wp-json/ through it"
        )
    if exc.status == 404:
        try:
            plain = await client.request("GET", "", {"rest_route": "/"}, namespace=None)
        except (TransportError, ResponseError):
            plain = None
        if plain is not None and isinstance(plain.data, dict) and "namespaces" in plain.data:
            return (
                "WordPress answers only at ?rest_route=/ because permalinks are set to "
                "'Plain': choose any other permalink structure in Settings > Permalinks"
            )
        return (
            f"no WordPress REST API at {client.url}/wp-json/ (HTTP 404): check the URL is "
            "the site's address (WordPress > Settings > General)"
        )
    return f"/wp-json/ did not answer like WordPress: {exc.message}"


async def _has_global_variations(client: Requester) -> bool:
    try:
        await client.get("variations", {"per_page": 1, "_fields": "id"})
    except ResponseError:
        # rest_no_route: no global route. A 400 means the route exists but
        # disliked a parameter; an auth error, a WAF page or a PHP fatal on
        # this route leaves it unknown: fall back to per-product variations,
        # which every version has.
        return False
    return True


async def _wc_version(client: Requester) -> str | None:
    try:
        response = await client.get("system_status", {"_fields": "environment"})
    except ResponseError:
        return None
    environment = response.data.get("environment") if isinstance(response.data, dict) else None
    version = environment.get("version") if isinstance(environment, dict) else None
    return str(version) if version else None
