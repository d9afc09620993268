"""``onetill sandbox``: run an emulated WooCommerce store as a real server.

Prints its URL and key pair on start (they are the sandbox's own test keys,
never a merchant's), then serves until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

from pathlib import Path

import click

from onetill.cli.params import PlainFloat, PlainInt, SafePath

__all__ = ["sandbox"]


def _key_pair(value: str | None, option: str) -> tuple[str, str] | None:
    if value is None:
        return None
    key, sep, secret = value.partition(":")
    if not sep or not key or not secret:
        raise click.BadParameter(f"expected CK:CS (consumer key, colon, secret), got {value!r}")
    return key, secret


@click.command(help="Run an emulated WooCommerce store (for tests, benchmarks and the demo).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=PlainInt(0, 65535), default=0, show_default=True,
              help="Port to listen on (0: any free port).")
@click.option("--key", help="Consumer key of the read/write key pair (with --secret).")
@click.option("--secret", help="Consumer secret of the read/write key pair (with --key).")
@click.option("--read-only-key", metavar="CK:CS", help="Also accept this read-only key pair.")
@click.option("--https-cert", type=SafePath(exists=True, dir_okay=False, path_type=Path),
              help="Serve https with this PEM certificate (with --https-key).")
@click.option("--https-key", type=SafePath(exists=True, dir_okay=False, path_type=Path),
              help="The certificate's PEM private key.")
@click.option("--store", "store_dir",
              type=SafePath(exists=True, file_okay=False, path_type=Path),
              help="Load a recorded store (layout of tests/fixtures/store/) with its ids.")
@click.option("--products", type=PlainInt(0, 1_000_000), default=0,
              help="Generate N simple products.")
@click.option("--variable", type=PlainInt(0, 100_000), default=0,
              help="Generate M variable products (2-6 variations each).")
@click.option("--seed", type=PlainInt(0, 2**32 - 1), default=0, show_default=True,
              help="Seed of the generated catalog and of probabilistic faults.")
@click.option("--state", "state_file", type=SafePath(dir_okay=False, path_type=Path),
              help="SQLite file holding the store, so it survives a restart.")
@click.option("--timezone", default="America/New_York", show_default=True,
              help="Site timezone (IANA name).")
@click.option("--workers", type=PlainInt(1, 1024),
              help="Requests served at once; others queue.")
@click.option("--latency", "latency_ms", type=PlainFloat(0, 600_000), default=0.0,
              help="Server time of every request, in ms.")
@click.option("--per-item-ms", type=PlainFloat(0, 60_000), default=0.0,
              help="Extra server time per item returned or written, in ms.")
@click.option("--faults", metavar="SPEC",
              help="Fault rules, e.g. 'POST /orders*:commit_drop@nth=3' "
              "(grammar: python -m pydoc onetill.sandbox.faults).")
@click.option("--home-url", metavar="URL",
              help="The site's address as clients reach it (behind a proxy); OAuth "
              "signatures and links use it. Default: the address it listens on.")
@click.option("--control/--no-control", default=False, show_default=True,
              help="Serve the /__sandbox__/ control API (loopback clients only) for tests, "
              "benchmarks and the demo.")
@click.option("--plugin/--no-plugin", default=False, show_default=True,
              help="Behave as a store with the OneTill companion plugin (wc-onetill/v1) active.")
def sandbox(
    host: str,
    port: int,
    key: str | None,
    secret: str | None,
    read_only_key: str | None,
    https_cert: Path | None,
    https_key: Path | None,
    store_dir: Path | None,
    products: int,
    variable: int,
    seed: int,
    state_file: Path | None,
    timezone: str,
    workers: int | None,
    latency_ms: float,
    per_item_ms: float,
    faults: str | None,
    home_url: str | None,
    control: bool,
    plugin: bool,
) -> None:
    import asyncio
    import zoneinfo

    import uvicorn

    from onetill.sandbox import SandboxConfig, create_app
    from onetill.sandbox.faults import FaultSpecError, parse_spec
    from onetill.sandbox.server import bind_socket, server_config, url_for

    if (key is None) != (secret is None):
        raise click.UsageError("give --key and --secret together (or neither for the test pair)")
    if (https_cert is None) != (https_key is None):
        raise click.UsageError("give --https-cert and --https-key together")
    if store_dir is not None and (products or variable):
        raise click.UsageError("--store loads a recorded catalog; do not combine with --products")
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(f"unknown timezone {timezone!r}; use an IANA name such as "
                                 "Europe/Berlin", param_hint="--timezone") from None
    if faults:
        try:
            parse_spec(faults)
        except FaultSpecError as exc:
            raise click.BadParameter(str(exc), param_hint="--faults") from None

    config = SandboxConfig(
        timezone=timezone,
        store_dir=store_dir,
        products=products,
        variable=variable,
        seed=seed,
        state_file=state_file,
        workers=workers,
        latency_ms=latency_ms,
        per_item_ms=per_item_ms,
        faults=faults,
        control=control,
        plugin=plugin,
    )
    if key is not None and secret is not None:
        config.keys = {key: secret}
    read_only = _key_pair(read_only_key, "--read-only-key")
    if read_only is not None:
        config.read_only_keys = {read_only[0]: read_only[1]}

    try:
        sock = bind_socket(host, port)
    except OSError as exc:
        raise click.ClickException(str(exc.strerror or exc)) from None
    bound = url_for(sock, https=https_cert is not None)
    config.home_url = (home_url or bound).rstrip("/")
    app = create_app(config)
    server = uvicorn.Server(
        server_config(
            app,
            ssl_certfile=None if https_cert is None else str(https_cert),
            ssl_keyfile=None if https_key is None else str(https_key),
        )
    )
    ck, cs = next(iter(config.keys.items()))
    click.echo(f"OneTill sandbox store: {bound}")
    if config.home_url != bound:
        click.echo(f"  site address:    {config.home_url} (signatures and links)")
    click.echo(f"  consumer key:    {ck}")
    click.echo(f"  consumer secret: {cs}")
    if read_only is not None:
        click.echo(f"  read-only key:   {read_only[0]}")
    if config.control:
        click.echo(f"  control API:     {bound}/__sandbox__/ (loopback only)")
    if state_file is not None:
        click.echo(f"  state file:      {state_file}")
    click.echo("Press Ctrl-C to stop.", nl=True)
    try:
        asyncio.run(server.serve(sockets=[sock]))
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
