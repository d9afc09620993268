"""Every difference the differential test found between the sandbox and the real store stays fixed.

Each fixture in tests/fixtures/differential/ is a request sequence recorded
from the real WooCommerce 11.0.1 (reset to the recorded catalog first). It
is replayed here, step by step, on a fresh sandbox at the real store's
address, and every answer must equal the recorded one in status, error code,
the headers the till reads and every field value (normalised as in
``differential_support``). The fixture's note says what used to differ.
"""

from __future__ import annotations

import httpx2
import pytest

from differential_support import API, DIFFERENTIAL, Answer, compare, load_sequence
from onetill.sandbox import SandboxConfig, create_app
from onetill.sandbox.config import DEFAULT_KEY, DEFAULT_SECRET
from sandbox_support import OAuthSigner
from support import RECORDED_STORE

pytestmark = pytest.mark.anyio

FIXTURES = sorted(p.name for p in DIFFERENTIAL.glob("*.json"))
HOME = "http://127.0.0.1:8080"  # where the real store was, as its URLs in the answers say


@pytest.mark.parametrize("name", FIXTURES)
async def test_the_sandbox_replays_a_recorded_sequence_like_the_real_store(name: str) -> None:
    note, exchanges = load_sequence(DIFFERENTIAL / name)
    app = create_app(SandboxConfig(store_dir=RECORDED_STORE, home_url=HOME, webhook_delay_s=0.01))
    store = app.state.sandbox
    try:
        async with httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app),
            base_url=HOME,
            auth=OAuthSigner(DEFAULT_KEY, DEFAULT_SECRET, clock=store.now),
        ) as client:
            for i, ex in enumerate(exchanges):
                req = ex.request
                response = await client.request(
                    req.method, API + req.path, params=req.params, json=req.json
                )
                found = compare(ex.response, Answer.of(response))
                assert not found, f"step {i} {req.describe()}\n" + "\n".join(found) + f"\n{note}"
    finally:
        await store.aclose()


def test_there_are_recorded_sequences() -> None:
    """The replay above is not vacuous: the differences found were recorded."""
    assert len(FIXTURES) >= 5
