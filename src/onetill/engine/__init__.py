"""The engine: one long-running process per till home directory.

It runs the delta-sync timer, the outbox drainer, the deletion audit, the
connectivity monitor and the webhook receiver under one uvicorn server
(``onetill run``). Modules:

- ``runtime``: the process (server, tasks, signals, shutdown);
- ``scheduler``: when each sync job runs; ``connectivity``: online/offline;
- ``webhooks`` and ``app``: the HTTP side; ``register``: creating webhooks;
- ``lock``, ``logs``, ``status``, ``demo``: operations.

Heavy modules are imported by their users, not here, to keep the CLI fast.
"""

__all__: list[str] = []
