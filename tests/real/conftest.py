"""Fixtures of the real-store tests: the admin's REST client, a till with the catalog,
and the companion plugin installed in the store (for the plugin's modules)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

import companion_support as cs
from onetill.engine.jobs import build_client
from onetill.store import Database
from onetill.sync.catalog import initial_sync
from real.real_support import Admin, Till, copy_till, till_config
from realstore_support import RealStore


@pytest.fixture(autouse=True)
def _no_os_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep test secrets out of any real keyring: the till's 0600 file is used."""
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")


@pytest.fixture(scope="session")
def admin(realstore_session: RealStore) -> Iterator[Admin]:
    with Admin(realstore_session) as client:
        yield client


@pytest.fixture(scope="session")
def till_template(
    realstore_session: RealStore, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A till database after an initial sync of the clean store, pulled once per session."""
    realstore_session.reset()
    path = tmp_path_factory.mktemp("till-template") / "onetill.db"
    db = Database(path)

    async def pull() -> None:
        async with build_client(till_config(realstore_session)) as client:
            await initial_sync(client, db)

    try:
        asyncio.run(pull())
    finally:
        db.close()
    return path


@pytest.fixture
def till(realstore: RealStore, till_template: Path, tmp_path: Path) -> Iterator[Till]:
    """A clean store (reset) and a till holding its catalog, connected over http (OAuth)."""
    made = copy_till(till_template, tmp_path / "till", till_config(realstore))
    yield made
    made.close()



@pytest.fixture(scope="module")
def companion_store(realstore_session: RealStore) -> Iterator[RealStore]:
    """The real store with the plugin installed and active, ``WP_DEBUG`` on, for one module.

    Tests in the module share it (no reset between them: each works on its own
    products and reads the journal from its own starting point). Afterwards
    the store is as other modules expect it: ``WP_DEBUG`` off, the database
    reset (no plugin tables or options), the plugin's files removed.
    """
    store = realstore_session
    cs.install_files(store)
    try:
        with cs.wp_debug(store):
            store.reset()
            cs.activate(store)
            yield store
    finally:
        store.reset()
        cs.remove_files(store)


@pytest.fixture
def companion(companion_store: RealStore) -> Iterator[RealStore]:
    """The module's store; the test fails if PHP logged anything while it ran."""
    watch = cs.LogWatch(companion_store)
    yield companion_store
    logged = watch.new_lines()
    assert not logged, "PHP logged with WP_DEBUG on:\n" + "\n".join(logged[:20])
