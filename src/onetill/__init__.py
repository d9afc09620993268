"""OneTill: the sync engine of a point-of-sale till for WooCommerce merchants.

Rooms (see docs/architecture.md): ``woo`` talks to WooCommerce, ``store`` owns
SQLite, ``pos`` is the till's domain, ``sync`` moves data between them,
``engine`` runs it all as one process, ``web`` serves the till screen and
``sandbox`` is an emulated WooCommerce store for tests and the demo.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
