"""An emulated WooCommerce 11 store, for tests, benchmarks and ``onetill demo``.

It is the other side of the wire, so it imports nothing else of ours (not
even ``onetill.woo``): it implements WooCommerce's server-side rules on its
own, and a bug in the client's signing or decoding cannot hide itself.

    app = create_app(SandboxConfig(...))       # a Starlette app
    app.state.sandbox                           # the SandboxStore behind it

Layers, outside in: the fault injector (``faults.py``), the cost model
(``cost.py``), then the WooCommerce routes (``api.py``) over the state
(``state.py``). The control API (``control.py``) is mounted beside them at
``/__sandbox__/`` when ``config.control`` is on; it is never faulted or
costed. ``server.py`` runs it all as a real HTTP server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from onetill.sandbox.config import SandboxConfig

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from onetill.sandbox.state import SandboxStore

__all__ = ["SandboxConfig", "create_app"]


def create_app(config: SandboxConfig) -> Starlette:
    """The sandbox store as an ASGI app; ``app.state`` holds ``sandbox``, ``faults``, ``cost``."""
    # Imported here so that `import onetill.sandbox.faults` (or the CLI's
    # --help) does not load the whole store.
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from onetill.sandbox._asgi import CONTROL_PREFIX
    from onetill.sandbox.api import build_api
    from onetill.sandbox.control import build_control
    from onetill.sandbox.cost import CostMiddleware, CostModel
    from onetill.sandbox.fault_middleware import FaultMiddleware
    from onetill.sandbox.faults import FaultInjector
    from onetill.sandbox.state import SandboxStore

    store = SandboxStore.from_config(config)
    api = build_api(store)
    faults = FaultInjector(config.faults, seed=config.seed)
    faults.revoke_key = _revoker(store)
    cost = CostModel(config.workers, config.latency_ms, config.per_item_ms)
    served = FaultMiddleware(CostMiddleware(api, cost), faults, clock=lambda: store.now())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # The outer app receives the server's lifespan; pass it on to the API.
        async with api.router.lifespan_context(api):
            try:
                yield
            finally:
                await store.aclose()

    routes = [Mount("", app=served)]
    if config.control:
        routes.insert(0, Mount(CONTROL_PREFIX, app=build_control(store, faults, cost)))
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.sandbox = store
    app.state.faults = faults
    app.state.cost = cost
    return app


def _revoker(store: SandboxStore) -> Callable[[str | None], None]:
    def revoke(key: str | None) -> None:
        keys = [key] if key else [*store.keyring.keys, *store.keyring.read_only_keys]
        for ck in keys:
            store.revoke_key(ck)

    return revoke
