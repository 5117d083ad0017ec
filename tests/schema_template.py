"""One migrated SQLite file per test process, copied into each new test database.

Running the migrations on a fresh SQLite file costs about 0.35 s, and most tests start from an empty database: the
copy costs milliseconds, and `migrate.upgrade` then finds the schema at head (the migrations themselves are tested
on fresh files in tests/test_storage.py). PostgreSQL databases are left alone.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from pathlib import Path

from sqlalchemy.engine import make_url

from storage import migrate
from storage.database import Database

_template: Path | None = None


async def seed_sqlite(database_url: str) -> None:
    """Before a test's first use of `database_url`: a new SQLite file becomes a copy of the migrated template."""
    url = make_url(database_url)
    if not url.get_backend_name() == "sqlite" or not url.database:
        return
    target = Path(url.database)
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(await _migrated_template(), target)


async def _migrated_template() -> Path:
    global _template
    if _template is None:
        path = Path(tempfile.mkdtemp(prefix="monev-schema-")) / "template.sqlite3"
        database = Database(f"sqlite+aiosqlite:///{path}")
        try:
            await migrate.upgrade(database)
        finally:
            await database.dispose()
        connection = sqlite3.connect(path)  # everything in the main file: nothing left in a WAL beside it
        try:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            connection.close()
        _template = path
    return _template
