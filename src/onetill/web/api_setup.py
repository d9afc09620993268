"""Connecting a store from the till screen, new keys for a paused queue, and the demo panel.

- ``POST /api/setup/connect`` ``{url, key, secret, ca_pem?}``: the first-run
  form. The same checks and messages as ``onetill connect``
  (``onetill.connection``); on success the connection is saved and the
  engine starts the initial sync, whose progress the status stream carries.
- ``POST /api/setup/keys`` ``{key, secret}``: new keys for the connected
  store (after WooCommerce rejected the old ones); a paused queue resumes.
- ``POST /api/demo/store`` ``{online}``, ``POST /api/demo/order``: only with
  ``onetill demo`` (never with a real store).
"""

from __future__ import annotations

import logging
import os
import ssl
from pathlib import Path
from typing import Any

import anyio.to_thread
import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from onetill.config import Config, save_config
from onetill.connection import (
    ConnectFailed,
    Found,
    check_store,
    connection_config,
    resume_uploads,
    site_address,
)
from onetill.web.context import BadRequest, Till, error, json_response

__all__ = ["CA_FILENAME", "setup_routes"]

log = logging.getLogger("onetill.web")

CA_FILENAME = "store-ca.pem"


class ConnectIn(msgspec.Struct, forbid_unknown_fields=True):
    url: str
    key: str
    secret: str
    ca_pem: str = ""


class KeysIn(msgspec.Struct, forbid_unknown_fields=True):
    key: str
    secret: str


class DemoStoreIn(msgspec.Struct, forbid_unknown_fields=True):
    online: bool


def _failure(failure: ConnectFailed) -> Response:
    return error(400, "connect", failure.message, hint=failure.hint)


def _summary(found: Found) -> dict[str, Any]:
    return {
        "name": found.name, "url": found.url, "wc_version": found.wc_version,
        "products": found.products, "currency": found.currency, "plugin": found.plugin,
        "read_only": found.read_only, "warnings": found.warnings,
    }  # fmt: skip


def _save_ca(home: Path, pem: str) -> Path:
    """Keep an uploaded CA certificate next to the config (checked to be a certificate)."""
    try:
        ssl.create_default_context(cadata=pem)
    except (ssl.SSLError, ValueError):
        raise ConnectFailed(
            "the CA file is not a PEM certificate",
            "choose the .pem or .crt file holding the certificate that signed the store's",
        ) from None
    path = home / CA_FILENAME
    tmp = path.with_suffix(".tmp")
    tmp.write_text(pem, encoding="utf-8")
    os.replace(tmp, path)
    return path


def _keys(body: ConnectIn | KeysIn) -> tuple[str, str]:
    key, secret = body.key.strip(), body.secret.strip()
    if not key or not secret:
        raise ConnectFailed(
            "the consumer key and secret must not be empty",
            "copy both from WooCommerce > Settings > Advanced > REST API",
        )
    return key, secret


def setup_routes(till: Till) -> list[Route]:
    home = till.backend.home

    async def finish(found: Found, config: Config) -> Response:
        where = await anyio.to_thread.run_sync(lambda: save_config(home, config))
        resumed = await anyio.to_thread.run_sync(lambda: resume_uploads(home))
        await till.backend.use_config(config)
        log.info("store %s connected from the till screen (secret in %s)", found.url, where)
        return json_response({"ok": True, "store": _summary(found), "resumed": resumed})

    async def connect(request: Request) -> Response:
        if till.config is not None:
            return error(409, "connected", "a store is already connected to this till; "
                         "to use new keys, use the needs-attention screen")  # fmt: skip
        try:
            body = await till.body(request, ConnectIn)
        except BadRequest as exc:
            return error(400, "invalid", str(exc))
        try:
            site, _ = site_address(body.url)
            key, secret = _keys(body)
            ca_file = str(_save_ca(home, body.ca_pem)) if body.ca_pem.strip() else None
            found = await check_store(site, key, secret, ca_file, False, False)
        except ConnectFailed as failure:
            return _failure(failure)
        config = connection_config(home, found, key, secret, ca_file, False, False)
        return await finish(found, config)

    async def keys(request: Request) -> Response:
        old = till.config
        if old is None:
            return error(409, "not_connected", "connect a store first")
        try:
            body = await till.body(request, KeysIn)
        except BadRequest as exc:
            return error(400, "invalid", str(exc))
        try:
            key, secret = _keys(body)
            found = await check_store(
                old.url, key, secret, old.ca_file, old.insecure, old.auth_in_query
            )
        except ConnectFailed as failure:
            return _failure(failure)
        config = connection_config(
            home, found, key, secret, old.ca_file, old.insecure, old.auth_in_query
        )
        return await finish(found, config)

    def demo() -> Any:
        controls = till.backend.demo
        if controls is None or till.config is None or not till.config.extra.get("demo"):
            return None
        return controls

    async def demo_store(request: Request) -> Response:
        controls = demo()
        if controls is None:
            return error(404, "not_found", "the demo panel exists only in `onetill demo`")
        try:
            body = await till.body(request, DemoStoreIn)
        except BadRequest as exc:
            return error(400, "invalid", str(exc))
        await controls.set_store_online(body.online)
        return json_response({"store_online": controls.store_online})

    async def demo_order(request: Request) -> Response:
        controls = demo()
        if controls is None:
            return error(404, "not_found", "the demo panel exists only in `onetill demo`")
        if not controls.store_online:
            return error(409, "offline", "the demo store is offline: bring it back first")
        try:
            return json_response(await controls.place_online_order())
        except Exception as exc:  # the demo store's control API: report, never crash the till
            log.warning("demo online order failed: %s", exc)
            return error(502, "store", f"the demo store did not take the order ({exc})")

    return [
        Route("/api/setup/connect", connect, methods=["POST"]),
        Route("/api/setup/keys", keys, methods=["POST"]),
        Route("/api/demo/store", demo_store, methods=["POST"]),
        Route("/api/demo/order", demo_order, methods=["POST"]),
    ]
