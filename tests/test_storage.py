"""Storage on real SQLite (and PostgreSQL when configured): aware datetimes, transactions, migrations."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import StatementError

from storage import migrate
from storage.database import Database, signal_after_commit
from storage.models import SEARCH_INDEX_NAMES, Base, Opd, Person
from storage.types import NaiveDatetimeError

WIB = ZoneInfo("Asia/Pontianak")


async def test_wib_datetime_round_trips_aware_and_equal(db: Database) -> None:
    written = datetime(2026, 5, 29, 23, 59, tzinfo=WIB)
    async with db.write() as session:
        session.add(Person(display_name="Budi", created_at=written))
    async with db.read() as session:
        stored = await session.scalar(select(Person.created_at))
    assert stored is not None
    assert stored.tzinfo is not None and stored.utcoffset() == timedelta(0)
    assert stored == written
    assert stored.astimezone(WIB).hour == 23


async def test_comparisons_use_the_instant_not_the_wall_clock(db: Database) -> None:
    # 23:00 WIB is 16:00 UTC: a naive store would compare "23:00" against "17:00" and get it wrong.
    async with db.write() as session:
        session.add(Person(display_name="A", created_at=datetime(2026, 1, 1, 23, 0, tzinfo=WIB)))
    later_utc = datetime(2026, 1, 1, 17, 0, tzinfo=UTC)
    async with db.read() as session:
        earlier = await session.scalar(select(Person.display_name).where(Person.created_at < later_utc))
    assert earlier == "A"


async def test_naive_datetimes_are_refused(db: Database) -> None:
    with pytest.raises(StatementError) as caught:
        async with db.write() as session:
            session.add(Person(display_name="naive", created_at=datetime(2026, 1, 1, 8, 0)))
    assert isinstance(caught.value.orig, NaiveDatetimeError)
    async with db.read() as session:
        assert await session.scalar(select(Person.id)) is None


async def test_a_failed_unit_of_work_rolls_back(db: Database) -> None:
    now = datetime.now(UTC)
    with pytest.raises(RuntimeError):
        async with db.write() as session:
            session.add(Opd(code="X", name="X", short_name="X", kind="dinas", created_at=now))
            await session.flush()
            raise RuntimeError("boom")
    async with db.read() as session:
        assert await session.scalar(select(Opd.id)) is None


async def test_migrations_create_the_schema_and_are_idempotent(db: Database) -> None:
    await migrate.upgrade(db)  # a second run is a no-op
    async with db.engine.connect() as connection:
        tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert {
        "opd",
        "person",
        "channel_identity",
        "role_assignment",
        "stored_file",
        "alembic_version",
    } <= tables


def test_the_head_read_from_file_names_is_alembic_s_head() -> None:
    """`migrate.upgrade` skips Alembic when the database is at the head it reads from the file names."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(migrate.alembic_config())
    assert scripts.get_heads() == [migrate.head_revision()]


async def test_an_empty_database_is_at_no_revision_until_migrated(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite3'}")
    try:
        assert await migrate.current_revision(database) is None
        await migrate.upgrade(database)
        assert await migrate.current_revision(database) == migrate.head_revision()
    finally:
        await database.dispose()


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> Database:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'concurrency.sqlite3'}")
    await migrate.upgrade(database)
    yield database  # type: ignore[misc]
    await database.dispose()


async def test_sqlite_pragmas(sqlite_db: Database) -> None:
    async with sqlite_db.read() as session:
        assert (await session.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await session.execute(text("PRAGMA foreign_keys"))).scalar() == 1
        assert (await session.execute(text("PRAGMA busy_timeout"))).scalar() == 5000
        assert (await session.execute(text("PRAGMA journal_size_limit"))).scalar() == 16 * 1024 * 1024
        assert (await session.execute(text("PRAGMA synchronous"))).scalar() == 2  # FULL


async def test_twenty_concurrent_writers_never_see_database_is_locked(sqlite_db: Database) -> None:
    now = datetime.now(UTC)

    async def writer(n: int) -> None:
        async with sqlite_db.write() as session:
            # read first, then write: the pattern that fails with a deferred BEGIN
            count = await session.scalar(select(Person.id).order_by(Person.id.desc()).limit(1))
            session.add(Person(display_name=f"writer {n} after {count}", created_at=now))
            await asyncio.sleep(0.01)

    await asyncio.gather(*(writer(n) for n in range(20)))
    async with sqlite_db.read() as session:
        names = (await session.scalars(select(Person.display_name))).all()
    assert len(names) == 20


async def test_writers_of_one_process_take_the_lock_in_the_order_they_asked(sqlite_db: Database) -> None:
    # Left to SQLite's busy handler, waiting writers sleep between tries and the lock goes to whoever wakes first:
    # under load one writer could miss it for the whole busy timeout. Here they queue, first come first served.
    now = datetime.now(UTC)
    began: list[int] = []
    release = asyncio.Event()

    async def holder() -> None:
        async with sqlite_db.write() as session:
            session.add(Person(display_name="holder", created_at=now))
            await session.flush()  # BEGIN IMMEDIATE sent: this unit holds the lock
            await release.wait()

    async def writer(n: int) -> None:
        async with sqlite_db.write() as session:
            await session.execute(text("SELECT 1"))  # its BEGIN IMMEDIATE goes first
            began.append(n)
            session.add(Person(display_name=f"writer {n}", created_at=now))

    first = asyncio.create_task(holder())
    while not sqlite_db.engine.sync_engine.pool.checkedout():
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    writers = []
    for n in range(8):
        writers.append(asyncio.create_task(writer(n)))
        await asyncio.sleep(0.02)  # each one asks after the one before
    release.set()
    await asyncio.gather(first, *writers)
    assert began == list(range(8))


async def test_a_writer_cancelled_inside_its_transaction_does_not_keep_the_turn(sqlite_db: Database) -> None:
    now = datetime.now(UTC)
    entered = asyncio.Event()

    async def stuck() -> None:
        async with sqlite_db.write() as session:
            session.add(Person(display_name="stuck", created_at=now))
            await session.flush()
            entered.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(stuck())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with asyncio.timeout(2):  # not the 5 s a turn may wait, nor SQLite's busy timeout
        async with sqlite_db.write() as session:
            session.add(Person(display_name="next", created_at=now))
    async with sqlite_db.read() as session:
        assert (await session.scalars(select(Person.display_name))).all() == ["next"]


async def test_read_only_unit_does_not_wait_for_the_write_lock(sqlite_db: Database) -> None:
    now = datetime.now(UTC)
    async with sqlite_db.write() as writer:
        writer.add(Person(display_name="held", created_at=now))
        await writer.flush()  # this connection now holds the write lock (BEGIN IMMEDIATE)
        # A deferred read transaction proceeds at once; an IMMEDIATE one would wait the 5 s busy timeout.
        async with asyncio.timeout(2):
            async with sqlite_db.read() as reader:
                assert await reader.scalar(select(Person.id)) is None


async def test_the_migrations_match_the_models(db: Database) -> None:
    # The evidence search index is per backend and outside the model (storage.models.SEARCH_INDEX_NAMES).
    options = {"include_name": lambda name, *_: name not in SEARCH_INDEX_NAMES}
    async with db.engine.connect() as connection:
        drift = await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync, opts=options), Base.metadata)
        )
    assert drift == []


async def test_a_commit_tells_its_topic_listeners_and_a_rollback_tells_nobody(db: Database) -> None:
    heard: list[str] = []
    db.on_commit("outbox", lambda: heard.append("outbox"))
    async with db.write() as session:
        signal_after_commit(session, "outbox")
        assert heard == []  # not before the commit
    assert heard == ["outbox"]
    with pytest.raises(RuntimeError):
        async with db.write() as session:
            signal_after_commit(session, "outbox")
            raise RuntimeError("rolled back")
    async with db.write() as session:
        await session.execute(text("SELECT 1"))  # a commit that queued nothing
    assert heard == ["outbox"]


async def test_work_left_running_by_a_cancelled_caller_reports_its_failure(caplog: pytest.LogCaptureFixture) -> None:
    from storage.database import uninterrupted

    started = asyncio.Event()

    async def failing_later() -> None:
        started.set()
        await asyncio.sleep(0.05)
        raise RuntimeError("connection closed")

    caller = asyncio.create_task(uninterrupted(failing_later()))
    await started.wait()
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    await asyncio.sleep(0.1)  # the work goes on after its caller gave up, then fails
    assert any("failed: RuntimeError: connection closed" in r.getMessage() for r in caplog.records)
