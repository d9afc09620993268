"""Fixtures for the companion plugin inside the real store (owner: companion plugin tests)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import companion_support as cs
from realstore_support import RealStore


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
