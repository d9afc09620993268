"""The sandbox with plugin=True answers the companion contract as the real plugin did
(tests/fixtures/companion/contract.json, recorded from the plugin in real WooCommerce)."""

from __future__ import annotations

import httpx2
import pytest
from starlette.applications import Starlette

import companion_contract as contract
from onetill.sandbox.config import DEFAULT_KEY, DEFAULT_SECRET, SandboxConfig
from onetill.woo import WooClient
from support import RECORDED_STORE

pytestmark = pytest.mark.anyio


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(store_dir=RECORDED_STORE, webhook_delay_s=0.05, plugin=True)


async def test_sandbox_matches_the_recorded_contract(sandbox_app: Starlette) -> None:
    """Every step's status, error code, replay header and shape are the real plugin's."""
    transport = httpx2.ASGITransport(app=sandbox_app)
    async with WooClient(
        "http://sandbox.test", DEFAULT_KEY, DEFAULT_SECRET, transport=transport
    ) as c:
        got = await contract.run(c)
    problems = contract.differences(contract.load_recording(), got, "the sandbox")
    assert not problems, "\n".join(problems)
