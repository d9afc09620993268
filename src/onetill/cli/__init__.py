"""The ``onetill`` command.

Each subcommand lives in its own module and is imported only when it runs,
so ``onetill --help`` answers without importing httpx, SQLite code or
Starlette. To add a command, add one line to ``_COMMANDS``.
"""

from __future__ import annotations

import errno
import importlib
import logging
from typing import Any

import click

__all__ = ["main"]

# name -> (module, attribute, one-line help shown by `onetill --help`)
_COMMANDS: dict[str, tuple[str, str, str]] = {
    "connect": ("onetill.cli.connect", "connect", "Verify a store's keys and save the connection."),
    "sync": ("onetill.cli.catalog", "sync", "Pull the catalog (initial or delta), then exit."),
    "product": ("onetill.cli.catalog", "product", "Show the local record of one product."),
    "search": ("onetill.cli.catalog", "search", "Search sellable products by name."),
    "status": ("onetill.cli.status", "status", "Online/offline, last sync, queue and catalog."),
    "sell": ("onetill.cli.sales", "sell", "Record a sale and upload it when online."),
    "orders": ("onetill.cli.sales", "orders", "List the till's orders and their sync state."),
    "drain": ("onetill.cli.sales", "drain", "Upload pending orders now."),
    "retry": ("onetill.cli.sales", "retry", "Put a failed order back in the queue."),
    "void": ("onetill.cli.sales", "void", "Void a failed order that was never uploaded."),
    "lookup": ("onetill.cli.queue", "lookup", "Look an order up in the store now."),
    "discrepancies": (
        "onetill.cli.sales",
        "discrepancies",
        "Values the store overrode, and why.",
    ),
    "run": ("onetill.cli.engine", "run", "Run the engine: polling, outbox, webhooks."),
    "webhooks": ("onetill.cli.engine", "webhooks", "Register or inspect the store's webhooks."),
    "demo": ("onetill.cli.engine", "demo", "Sandbox store + engine in one go."),
    "sandbox": ("onetill.cli.sandbox", "sandbox", "Run an emulated WooCommerce store."),
    "stripe": ("onetill.cli.stripe", "stripe_group", "Connect a Stripe account for card payments."),
    "readers": ("onetill.cli.stripe", "readers", "List, register, simulate or choose readers."),
    "payments": ("onetill.cli.stripe", "payments", "Card payments: resume, cancel, recover."),
    "refund": ("onetill.cli.refunds", "refund", "Refund a sale: Stripe, then the store."),
    "stripe-sandbox": (
        "onetill.cli.stripe_sandbox",
        "stripe_sandbox",
        "Run an emulated Stripe API.",
    ),
    "plugin": ("onetill.cli.plugin", "plugin", "Build the companion WordPress plugin's zip."),
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = _COMMANDS.get(cmd_name)
        if spec is None:
            return None
        module_name, attr, short = spec
        if ctx.resilient_parsing:  # shell completion: don't import the command
            return click.Command(cmd_name, help=short, short_help=short)
        module = importlib.import_module(module_name)
        command: click.Command = getattr(module, attr)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; no traceback ever reaches the user.

        Error text may quote store data or what was typed: control characters
        in it are escaped. An exception no command expected is a bug: it is
        logged, and the user gets one line saying so (exit 1).
        """
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:
            from onetill.cli.output import printable

            # ``message`` is typed Final, but it is a plain attribute set in __init__.
            vars(exc)["message"] = "\n".join(printable(ln) for ln in exc.message.split("\n"))
            raise
        except (click.exceptions.Exit, click.exceptions.Abort, KeyboardInterrupt, EOFError):
            raise
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                raise  # click quiets a closed pipe (`onetill orders | head`)
            raise click.ClickException(_internal(exc)) from exc
        except Exception as exc:
            raise click.ClickException(_internal(exc)) from exc

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, _COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _internal(exc: BaseException) -> str:
    from onetill.cli.output import printable

    logging.getLogger("onetill.cli").error("unexpected error", exc_info=exc)
    return (
        f"internal error ({type(exc).__name__}: {printable(str(exc))[:200]}); this is a bug in "
        "OneTill: nothing was lost, and the log has the details; please report it"
    )


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="onetill")
def cli() -> None:
    """OneTill: a point-of-sale till that keeps selling offline and puts
    every sale into WooCommerce exactly once."""


def main(argv: list[str] | None = None) -> Any:
    return cli.main(args=argv, prog_name="onetill")
