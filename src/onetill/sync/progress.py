"""Progress of a catalog pull, as events the till screen and the CLI bar both consume.

A ``Progress`` event says how far one resource is (``done`` of ``total``
items, ``total`` from ``X-WP-Total``). A ``ProgressBoard`` keeps the latest
event per resource and hands every new one to its listeners: the rich
progress bar of ``onetill sync`` is one listener, the engine's status
stream another.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

import msgspec

__all__ = ["Progress", "ProgressBoard", "ProgressListener", "progress_bar"]

log = logging.getLogger("onetill.sync")


class Progress(msgspec.Struct, frozen=True):
    """How far one resource of a pull is: ``done`` of ``total`` items."""

    resource: str
    done: int
    total: int | None = None
    finished: bool = False


ProgressListener = Callable[[Progress], None]


class ProgressBoard:
    """The latest ``Progress`` per resource, fanned out to listeners."""

    def __init__(self, *listeners: ProgressListener) -> None:
        self._listeners: list[ProgressListener] = list(listeners)
        self._latest: dict[str, Progress] = {}

    def add_listener(self, listener: ProgressListener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: ProgressListener) -> None:
        self._listeners.remove(listener)

    def update(
        self, resource: str, done: int, total: int | None = None, *, finished: bool = False
    ) -> Progress:
        """Record and announce a new state of ``resource``."""
        if total is None and resource in self._latest:
            total = self._latest[resource].total
        if total is not None:
            done = min(done, total) if not finished else total
        event = Progress(resource, done, total, finished)
        self._latest[resource] = event
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken screen must never stop the sync
                log.exception("progress listener failed")
        return event

    def snapshot(self) -> list[Progress]:
        """The latest event of every resource seen so far."""
        return list(self._latest.values())


@contextlib.contextmanager
def progress_bar(console: Any = None) -> Iterator[ProgressListener]:
    """A rich progress bar (one row per resource) on ``console`` (default: the
    terminal), fed by the listener it yields; for ``onetill sync`` and the demo."""
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
    from rich.progress import Progress as Bar

    columns = (
        TextColumn("{task.description:<18}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Bar(*columns, console=console) as bar:
        tasks: dict[str, Any] = {}

        def show(event: Progress) -> None:
            if event.resource not in tasks:
                tasks[event.resource] = bar.add_task(event.resource, total=event.total)
            bar.update(tasks[event.resource], completed=event.done, total=event.total)

        yield show
