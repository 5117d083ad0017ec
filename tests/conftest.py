"""Shared fixtures: settings, a migrated database on SQLite (and PostgreSQL when configured), the fake Bot API."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import URL, make_url, text

from bot.app import MonevApp, build_app
from bot.settings import Settings, load_settings
from storage import migrate
from storage.database import Database
from storage.models import Base
from tests.schema_template import seed_sqlite

pytest_plugins = ["tests.fake_telegram.fixtures", "tests.fake_whatsapp.fixtures"]

POSTGRES_URL_VARIABLE = "MONEV_TEST_POSTGRES_URL"


def make_settings(data_dir: Path, **env: str) -> Settings:
    """Settings as the bot would load them, from an explicit environment (no `.env`, no os.environ)."""
    values = {"MONEV_DATA_DIR": str(data_dir), **env}
    return load_settings(values, dotenv=None)


# The longest test files (`--durations`), run first: xdist hands tests out in collection order, and a long test
# started last keeps one worker busy after the others have finished (the suite's tail).
LONG_FIRST = (
    "tests/e2e/test_two_instances.py",
    "tests/test_fuzz_conversation.py",
    "tests/e2e/test_crash_suite.py",
    "tests/test_evidence.py",
    "tests/e2e/test_crash.py",
    "tests/e2e/test_backup_restore.py",
    "tests/e2e/test_campaigns_chat.py",
    "tests/e2e/test_liaison_conversation.py",
    "tests/e2e/test_meetings.py",
    "tests/test_readme.py",
    "tests/e2e/test_shutdown.py",
    "tests/e2e/test_broadcast.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: n for n, path in enumerate(LONG_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(LONG_FIRST)))  # stable: the rest keep order


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist each worker gets a PostgreSQL database of its own (`<name>_gw0`, ...), created here.

    The tests truncate and migrate their database freely; two workers sharing one would undo each other's rows.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    base = os.environ.get(POSTGRES_URL_VARIABLE)
    if worker and base:
        os.environ[POSTGRES_URL_VARIABLE] = asyncio.run(_worker_database(make_url(base), worker))


async def _worker_database(base: URL, worker: str) -> str:
    import asyncpg  # the postgres extra; only needed when the PostgreSQL leg runs

    name = f"{base.database}_{worker}"
    server = base.set(drivername="postgresql", database=base.database)
    connection = await asyncpg.connect(server.render_as_string(hide_password=False))
    try:
        if not await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return base.set(database=name).render_as_string(hide_password=False)


def required_postgres_url() -> str:
    """MONEV_TEST_POSTGRES_URL; without it the test is skipped, and under CI=true it fails (the leg must run)."""
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{POSTGRES_URL_VARIABLE} is not set: CI must run the PostgreSQL leg")
        pytest.skip(f"PostgreSQL leg skipped: set {POSTGRES_URL_VARIABLE} to run it")
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty test database on each backend; PostgreSQL only when MONEV_TEST_POSTGRES_URL is set."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'monev.sqlite3'}"
    return required_postgres_url()


@pytest.fixture
def postgres_url() -> str:
    """The PostgreSQL test database (for tests that only make sense there, like two instances sharing it)."""
    return required_postgres_url()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """A migrated, empty database (PostgreSQL tables are truncated between tests)."""
    await seed_sqlite(database_url)
    database = Database(database_url)
    await migrate.upgrade(database)
    if not database.is_sqlite:
        await truncate_all(database)
    try:
        yield database
    finally:
        await database.dispose()


async def truncate_all(database: Database) -> None:
    """Empty every table of the model (PostgreSQL test isolation without re-creating the database)."""
    names = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    async with database.engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings pointing at the test database and a data directory of the test's own."""
    return make_settings(tmp_path / "data", MONEV_DATABASE_URL=database_url)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[MonevApp]:
    """The real application wired by the composition root, on a migrated empty database."""
    application = build_app(settings)
    await application.prepare()
    if not application.services.db.is_sqlite:
        await truncate_all(application.services.db)
    try:
        yield application
    finally:
        await application.close()
