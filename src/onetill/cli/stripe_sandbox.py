"""``onetill stripe-sandbox``: run the emulated Stripe API as a real server."""

from __future__ import annotations

import click

__all__ = ["stripe_sandbox"]


@click.command(help="Run an emulated Stripe API (for tests, benchmarks and the demo).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Port to listen on (0: any free port).")
@click.option("--key", help="The secret key clients must send (default: the sandbox's test key).")
@click.option("--latency", "latency_ms", type=click.FloatRange(0), default=0.0,
              help="Added to every API request, in ms (a network's round trip).")
@click.option("--reader-timeout", type=click.FloatRange(0.05), default=120.0, show_default=True,
              help="Seconds a reader waits for a card before its action fails.")
@click.option("--present-delay", type=click.FloatRange(0), default=0.0,
              help="Seconds between presenting a card and its outcome.")
@click.option("--faults", metavar="SPEC",
              help="Fault rules, e.g. 'POST /v1/payment_intents:commit_reset@nth=1' "
              "(grammar: python -m pydoc onetill.stripe_sandbox.faults).")
@click.option("--simulated-reader", metavar="LABEL", default=None,
              help="Start with a location and a simulated S710 with this label.")
@click.option("--webhook-url", help="Send every event, signed, to this URL.")
@click.option("--webhook-secret", help="The whsec_ secret for --webhook-url (default: generated).")
def stripe_sandbox(
    host: str,
    port: int,
    key: str | None,
    latency_ms: float,
    reader_timeout: float,
    present_delay: float,
    faults: str | None,
    simulated_reader: str | None,
    webhook_url: str | None,
    webhook_secret: str | None,
) -> None:
    import asyncio

    import uvicorn

    from onetill.stripe_sandbox import DEFAULT_KEY, StripeSandboxConfig, create_app
    from onetill.stripe_sandbox.faults import FaultError, parse_faults
    from onetill.stripe_sandbox.server import READY_LINE, bind, uvicorn_config

    if key is not None and not key.startswith("sk_test_"):
        raise click.BadParameter("the emulator only takes test-mode keys (sk_test_...)",
                                 param_hint="--key")  # fmt: skip
    if faults:
        try:
            parse_faults(faults)
        except FaultError as exc:
            raise click.BadParameter(str(exc), param_hint="--faults") from None
    config = StripeSandboxConfig(
        key=key or DEFAULT_KEY, latency_ms=latency_ms, reader_timeout_s=reader_timeout,
        present_delay_s=present_delay, faults=faults, simulated_reader=simulated_reader,
        webhook_url=webhook_url, webhook_secret=webhook_secret,
    )  # fmt: skip
    try:
        sock = bind(host, port)
    except OSError as exc:
        raise click.ClickException(str(exc.strerror or exc)) from None
    app = create_app(config)
    url = f"http://{host}:{sock.getsockname()[1]}"
    click.echo(f"OneTill Stripe sandbox: {url}")
    click.echo(f"  use it with: onetill stripe connect --key {config.key[:12]}... --api-base {url}")
    if app.reader is not None:
        click.echo(f"  simulated reader: {app.reader['id']} ({app.reader['label']})")
        click.echo(f"  location:         {app.reader['location']}")
    click.echo(f"  control API:      {url}/__stripe__/ (loopback only)")
    click.echo(READY_LINE)
    server = uvicorn.Server(uvicorn_config(app))
    try:
        asyncio.run(server.serve(sockets=[sock]))
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
