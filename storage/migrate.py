"""Apply Alembic migrations from code (`monev db upgrade`, and at the start of `monev run`/`monev shell`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from storage.database import Database

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_MIGRATION_FILE = re.compile(r"^(\d{4})_\w+\.py$")


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at our migrations, optionally bound to a live connection."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision, from the file names: each migration is `NNNN_name.py` with revision "NNNN", in one
    chain (tests/test_storage.py checks this against Alembic's own head)."""
    numbers = [m.group(1) for p in (MIGRATIONS_DIR / "versions").iterdir() if (m := _MIGRATION_FILE.match(p.name))]
    return max(numbers)


async def current_revision(db: Database) -> str | None:
    """The revision the database is at; None for a database never migrated."""
    async with db.engine.connect() as connection:
        try:
            return (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        except DBAPIError:
            return None  # no alembic_version table yet


async def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema up to `revision`.

    Every CLI command starts with this; a database already at head skips Alembic, whose import and reading of
    the migration scripts cost more than most commands' own work.
    """
    if revision == "head" and await current_revision(db) == head_revision():
        return
    from alembic import command

    def _run(connection: Connection) -> None:
        command.upgrade(alembic_config(connection), revision)

    async with db.engine.begin() as connection:
        await connection.run_sync(_run)
