"""Shared fixtures. Each section has one owner; edit only your own section."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# --- section: sandbox in-process (owner: sandbox core) ---------------------

from collections.abc import AsyncIterator  # noqa: E402

import httpx2  # noqa: E402
from starlette.applications import Starlette  # noqa: E402

from onetill.sandbox import create_app  # noqa: E402
from onetill.sandbox.config import DEFAULT_KEY, DEFAULT_SECRET, SandboxConfig  # noqa: E402
from onetill.sandbox.state import SandboxStore  # noqa: E402
from sandbox_support import OAuthSigner  # noqa: E402
from support import RECORDED_STORE  # noqa: E402


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    """The recorded store (same ids as tests/fixtures), plain http, fast webhooks."""
    return SandboxConfig(store_dir=RECORDED_STORE, webhook_delay_s=0.05)


@pytest.fixture
async def sandbox_app(sandbox_config: SandboxConfig) -> AsyncIterator[Starlette]:
    """The sandbox ASGI app; its store's pending webhook deliveries are cancelled at the end."""
    app = create_app(sandbox_config)
    yield app
    await app.state.sandbox.aclose()


@pytest.fixture
def sandbox_store(sandbox_app: Starlette) -> SandboxStore:
    """The SandboxStore behind ``sandbox_app`` (control methods, state for assertions)."""
    store: SandboxStore = sandbox_app.state.sandbox
    return store


@pytest.fixture
async def sandbox_client(
    sandbox_app: Starlette, sandbox_config: SandboxConfig
) -> AsyncIterator[httpx2.AsyncClient]:
    """An httpx2 client over ASGITransport, OAuth-signed with the default key pair."""
    key = next(iter(sandbox_config.keys), DEFAULT_KEY)
    secret = sandbox_config.keys.get(key, DEFAULT_SECRET)
    store = sandbox_app.state.sandbox
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=sandbox_app),
        base_url=sandbox_config.home_url,
        auth=OAuthSigner(key, secret, clock=store.now),
    ) as client:
        yield client


# --- section: sandbox real server (owner: sandbox server) ------------------


@pytest.fixture
def start_sandbox() -> Iterator[Callable[..., Any]]:
    """Start real sandbox servers on 127.0.0.1:0 (recorded store unless told
    otherwise); every one is stopped when the test ends.

    ``start_sandbox(faults="...", workers=2, ssl_certfile=..., ssl_keyfile=...)``
    """
    from onetill.sandbox import SandboxConfig
    from onetill.sandbox.server import running_sandbox
    from support import RECORDED_STORE

    with contextlib.ExitStack() as stack:

        def start(
            *,
            ssl_certfile: Path | None = None,
            ssl_keyfile: Path | None = None,
            **fields: Any,
        ) -> Any:
            if not fields.get("products") and not fields.get("variable"):
                fields.setdefault("store_dir", RECORDED_STORE)
            config = SandboxConfig(**fields)
            return stack.enter_context(
                running_sandbox(config, ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile)
            )

        yield start


@pytest.fixture
def sandbox_server(start_sandbox: Callable[..., Any]) -> Any:
    """The recorded store served by a real uvicorn on 127.0.0.1:0 (a RunningSandbox:
    ``.url``, ``.key``, ``.secret``, ``.store``, ``.control``)."""
    return start_sandbox()


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (cert PEM, key PEM)."""
    import subprocess

    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


# --- section: the real WooCommerce store (owner: real-store tests) ---------

import realstore_support  # noqa: E402


@pytest.fixture(scope="session")
def realstore_session() -> Iterator[realstore_support.RealStore]:
    """A real WordPress 7.0.4 + WooCommerce 11.0.1 on loopback, up for the whole
    session and stopped at its end; skipped (one line why) without the kit."""
    reason = realstore_support.skip_reason()
    if reason:
        pytest.skip(reason)
    store = realstore_support.bring_up()
    try:
        yield store
    finally:
        realstore_support.bring_down()


@pytest.fixture
def realstore(realstore_session: realstore_support.RealStore) -> realstore_support.RealStore:
    """The real store with its clean recorded catalog (reset before the test)."""
    realstore_session.reset()
    return realstore_session
