"""The contract test: the same requests against the real plugin and the sandbox (--plugin)."""

from __future__ import annotations

import os

import pytest

import companion_contract as contract
import companion_support as cs
from onetill.sandbox.config import SandboxConfig
from onetill.woo import WooClient
from realstore_support import RealStore
from support import RECORDED_STORE

pytestmark = [pytest.mark.real, pytest.mark.anyio]


async def test_sandbox_and_real_plugin_answer_alike(companion: RealStore) -> None:
    """Status, error code and shape of every answer agree between the real plugin, the
    recording (tests/fixtures/companion/contract.json) and the sandbox with plugin=True."""
    async with cs.client(companion) as c:
        real = await contract.run(c)
    if os.environ.get("ONETILL_RECORD_COMPANION_CONTRACT") == "1":
        contract.save_recording(real)
    from onetill.sandbox.server import running_sandbox

    with running_sandbox(SandboxConfig(store_dir=RECORDED_STORE, plugin=True)) as srv:
        async with WooClient(srv.url, srv.key, srv.secret) as c:
            sandbox = await contract.run(c)
    problems = contract.differences(real, sandbox, "the sandbox")
    problems += contract.differences(contract.load_recording(), real, "the real store")
    assert not problems, "\n".join(problems)
