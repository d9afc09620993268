"""An emulated Stripe API for tests, benchmarks and the demo (the other side of the wire).

PaymentIntents, Terminal readers and locations (simulated readers,
``present_payment_method`` with Stripe's test cards), refunds, events and
signed webhooks, idempotency keys as Stripe honours them, and injected
faults. Object shapes follow Stripe's published fixtures. It imports
nothing of OneTill's (nor the ``stripe`` library): the till talks to it
over HTTP exactly as it talks to Stripe.

```python
from onetill.stripe_sandbox import StripeSandboxConfig, create_app
from onetill.stripe_sandbox.server import running_stripe_sandbox, StripeSandboxProcess
```
"""

from __future__ import annotations

import asyncio
from typing import Any

from .account import Account
from .api import Receive, Scope, Send, StripeApi
from .config import DEFAULT_KEY, StripeSandboxConfig
from .control import ControlApi, setup_simulated_reader
from .faults import Faults
from .webhooks import WebhookDispatcher

__all__ = ["DEFAULT_KEY", "StripeSandbox", "StripeSandboxConfig", "create_app"]


class StripeSandbox:
    """The ASGI app: ``/v1`` (the API) and ``/__stripe__`` (control, if enabled)."""

    def __init__(self, config: StripeSandboxConfig) -> None:
        self.config = config
        self.account = Account(
            schedule=self._schedule,
            reader_timeout_s=config.reader_timeout_s,
            present_delay_s=config.present_delay_s,
        )
        self.faults = Faults()
        if config.faults:
            self.faults.add(config.faults)
        self.api = StripeApi(self.account, config.key, self.faults, config.latency_ms)
        self.dispatcher = WebhookDispatcher(lambda: list(self.account.endpoints.values()))
        self.account.on_event = self.dispatcher.deliver
        self.control = ControlApi(self.api, self.dispatcher)
        self.reader: dict[str, Any] | None = None
        if config.simulated_reader:
            self.reader = setup_simulated_reader(self.account, config.simulated_reader)
        if config.webhook_url:
            ep = self.account.create_endpoint({"url": config.webhook_url, "enabled_events": ["*"]})
            if config.webhook_secret:
                ep["secret"] = config.webhook_secret

    def _schedule(self, delay: float, fn: Any) -> Any:
        loop = self.dispatcher.loop
        if loop is None:
            return None
        return loop.call_later(delay, fn)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    self.dispatcher.loop = asyncio.get_running_loop()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await self.dispatcher.aclose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        if self.dispatcher.loop is None:
            self.dispatcher.loop = asyncio.get_running_loop()
        if scope["path"].startswith("/__stripe__/"):
            if not self.config.control:
                await self.api(scope, receive, send)  # an unknown URL, as Stripe answers
                return
            await self.control(scope, receive, send)
            return
        await self.api(scope, receive, send)


def create_app(config: StripeSandboxConfig) -> StripeSandbox:
    return StripeSandbox(config)
