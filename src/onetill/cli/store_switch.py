"""``onetill connect`` to another store: which store a till belongs to, and the switch.

A store is known by its home URL without the scheme (the same shop moved
to https is the same shop). Connecting to another store is refused while
sales wait to be uploaded to the old one (they would go to the wrong
store) or an engine runs; otherwise the old store's catalog and sync
position are dropped and every order is kept (``store.store_switch``).
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path

import click

from onetill.cli.connect_errors import EXIT_OTHER_STORE, ConnectFailed
from onetill.config import load_config

__all__ = ["store_key", "switch_store"]


def store_key(url: str) -> str:
    """What identifies a store: its home URL's host, port and path (the scheme aside:
    the same shop moved to https is the same shop)."""
    parts = urllib.parse.urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    default = {"http": 80, "https": 443}.get(parts.scheme)
    netloc = host if port in (None, default) else f"{host}:{port}"
    return netloc + parts.path.rstrip("/")


def switch_store(home: Path, site: str, url: str) -> bool:
    """Refuse or prepare a switch to another store; True when the till starts afresh.

    ``site`` is the store's own home URL (from ``/wp-json/``), ``url`` the
    address connected to. Raises ``ConnectFailed`` (``EXIT_OTHER_STORE``)
    when sales wait for the old store or an engine runs.
    """
    from onetill.engine.status import engine_url
    from onetill.store import open_database
    from onetill.store.store_switch import (
        forget_store,
        record_identity,
        store_identity,
        unsent_orders,
    )

    new = store_key(site)
    try:
        previous: str | None = store_key(load_config(home).url)
    except Exception:  # never connected here (or unreadable): the database decides
        previous = None
    with open_database(home) as db:
        with db.lock:
            old = store_identity(db.conn) or previous
            has_catalog = db.conn.execute("SELECT 1 FROM products LIMIT 1").fetchone()
            waiting = unsent_orders(db.conn)
        # Until the first connect that recorded it, the saved URL stood for the store.
        if old in (new, store_key(url)) or (old is None and not has_catalog and not waiting):
            with db.write() as conn:
                record_identity(conn, new)
            return False
        shown = old or "an unknown store"
        if waiting:
            counts = ", ".join(f"{n} {state.replace('_', ' ')}" for state, n in waiting.items())
            raise ConnectFailed(
                f"this till belongs to {shown} and has {sum(waiting.values())} sale(s) not yet "
                f"uploaded there ({counts}); connecting to {new} would send them to the "
                "wrong store. Nothing was changed",
                "upload them first with `onetill drain` while still connected to the old "
                "store; or keep a copy with `onetill orders --pending --json > unsent.json` "
                "and `onetill orders --failed --json`, then `onetill void UUID --reason ...` "
                "each; then connect again",
                EXIT_OTHER_STORE,
            )
        if engine_url(home) is not None:
            raise ConnectFailed(
                f"an engine is running for this till (connected to {shown}); nothing was changed",
                "stop `onetill run` first, then connect again",
                EXIT_OTHER_STORE,
            )
        with db.write() as conn:
            forget_store(conn, old, new)
    click.echo(
        f"note: this till was connected to {shown}: its catalog and sync position were "
        f"dropped (its orders are kept); the next `onetill sync` pulls {new} whole",
        err=True,
    )
    return True
