"""The WooCommerce REST client.

``WooClient`` talks to one store (auth, retries, adaptive concurrency,
pagination, batch, discovery); ``classify`` decides what any outcome means;
``format_gmt_cursor``/``parse_gmt`` handle WooCommerce's zone-less dates.
Errors live in ``onetill.woo.errors``, typed payloads in ``onetill.woo.models``.
"""

from onetill.woo.batch import BatchItem, BatchResult
from onetill.woo.client import WooClient
from onetill.woo.dates import format_gmt_cursor, parse_gmt
from onetill.woo.discovery import Discovery
from onetill.woo.outcome import Outcome, classify
from onetill.woo.pagination import Page
from onetill.woo.responses import WooResponse

__all__ = [
    "BatchItem",
    "BatchResult",
    "Discovery",
    "Outcome",
    "Page",
    "WooClient",
    "WooResponse",
    "classify",
    "format_gmt_cursor",
    "parse_gmt",
]
