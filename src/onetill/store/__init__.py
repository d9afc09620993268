"""The till's SQLite file: schema, migrations and the queries on it."""

from onetill.store.db import Database, open_database

__all__ = ["Database", "open_database"]
