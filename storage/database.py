"""Engine, sessions and units of work.

The caller owns the commit: `async with db.write() as session:` commits when the block ends without an
exception and rolls back otherwise; nothing in storage or services calls `commit()`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    AsyncSessionTransaction,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

from storage import sqlite_driver

logger = logging.getLogger(__name__)

_READ_ONLY = "monev_read_only"
_ONE_STATEMENT = "monev_one_statement"
_DATABASE = "monev_database"
_SIGNALS = "monev_signals"
T = TypeVar("T")


async def uninterrupted(work: Awaitable[T]) -> T:
    """Let a unit of work run to its end even when the task awaiting it is cancelled (a clean shutdown).

    A transaction cut off by a cancellation leaves its pooled connection half rolled back: SQLAlchemy logs
    "Exception during reset", and on SQLite the write lock can stay taken until the connection is dropped.
    Loops that a shutdown cancels (the lease renewal, polling, the journal loop) wrap their database work in this.
    """
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        task.add_done_callback(_report_late_failure)  # nobody awaits it now: its failure is logged, not lost
        raise


def _report_late_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and (error := task.exception()) is not None:
        logger.warning("work left to finish after a cancellation failed: %s: %s", type(error).__name__, error)


class Database:
    """One engine and two session factories per process: writers and declared read-only readers."""

    def __init__(self, url: str, *, echo: bool = False, idle_transaction_timeout: float | None = None) -> None:
        """`idle_transaction_timeout` (PostgreSQL with asyncpg): the server ends a session whose transaction has
        waited longer than this for its client, rolling it back. A lease holder that stalls (SIGSTOP, a frozen VM)
        in the middle of a transaction would otherwise keep its row locks, and the standby that took the lease
        over would wait on them forever instead of sending.
        """
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        options: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            _ensure_sqlite_dir(url)
        else:
            options["pool_pre_ping"] = True
            if idle_transaction_timeout is not None and parsed.get_driver_name() == "asyncpg":
                milliseconds = str(int(idle_transaction_timeout * 1000))
                options["connect_args"] = {"server_settings": {"idle_in_transaction_session_timeout": milliseconds}}
        self.engine: AsyncEngine = create_async_engine(url, **options)
        if self.is_sqlite:
            _install_sqlite_transactions(self.engine)
        self._writer = async_sessionmaker(self.engine, expire_on_commit=False, info={_DATABASE: self})
        self._listeners: dict[str, list[Callable[[], None]]] = {}
        self._reader = async_sessionmaker(self.engine.execution_options(**{_READ_ONLY: True}), expire_on_commit=False)
        self._one_reader = async_sessionmaker(
            self.engine.execution_options(**{_READ_ONLY: True, _ONE_STATEMENT: True}), expire_on_commit=False
        )

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A write transaction (BEGIN IMMEDIATE on SQLite), committed when the block succeeds."""
        async with self._writer() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self, *, one_statement: bool = False) -> AsyncIterator[AsyncSession]:
        """A read-only unit of work (deferred BEGIN on SQLite); loaded objects stay usable after it.

        `one_statement`: a read of a single statement, which is consistent by itself; on SQLite it runs without a
        BEGIN (and so without its commit), a round trip less for what runs on every update (the sender's lookup).
        """
        async with (self._one_reader if one_statement else self._reader)() as session, session.begin():
            yield session

    def on_commit(self, topic: str, listener: Callable[[], None]) -> None:
        """Call `listener` after each commit in this process that wrote something under `topic`.

        Writers mark their transaction with `signal_after_commit`; a rolled-back transaction tells nobody.
        Another process's writes are not seen here (whoever listens keeps a slow poll for those).
        """
        self._listeners.setdefault(topic, []).append(listener)

    def _committed(self, topics: set[str]) -> None:
        for topic in topics:
            for listener in self._listeners.get(topic, ()):
                listener()

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def _ensure_sqlite_dir(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


WAL_SIZE_LIMIT = 16 * 1024 * 1024


def _install_sqlite_transactions(engine: AsyncEngine) -> None:
    """Take transaction control away from the driver so writers start with BEGIN IMMEDIATE.

    A deferred BEGIN that later upgrades to a write can fail at once with "database is locked", whatever the
    busy timeout; BEGIN IMMEDIATE takes the write lock up front and waits for it. This is the recipe of
    SQLAlchemy's SQLite documentation ("Serializable isolation / Savepoints / Transactional DDL").
    """

    @event.listens_for(engine.sync_engine, "do_connect")
    def _one_trip_driver(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
        # aiosqlite with one trip to its thread per statement (storage.sqlite_driver: most of an update's CPU).
        cparams["async_creator_fn"] = sqlite_driver.connect

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver must not emit its own BEGIN
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        # A checkpoint truncates the WAL back to this size: after seeding or a large import it stayed at 70 MB.
        cursor.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
        # synchronous stays FULL (not NORMAL): under WAL, NORMAL survives a killed process but can lose the last
        # commits in a power cut, and a journaled update is acknowledged to Telegram right after its commit.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        options = connection.get_execution_options()
        if options.get(_ONE_STATEMENT, False):
            return  # autocommit: the one statement is its own transaction
        connection.exec_driver_sql("BEGIN" if options.get(_READ_ONLY, False) else "BEGIN IMMEDIATE")


def signal_after_commit(session: AsyncSession, topic: str) -> None:
    """Tell this process's `topic` listeners (see `Database.on_commit`) once this transaction commits."""
    session.sync_session.info.setdefault(_SIGNALS, set()).add(topic)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    topics = session.info.pop(_SIGNALS, None)
    database = session.info.get(_DATABASE)
    if topics and isinstance(database, Database):
        database._committed(topics)  # noqa: SLF001


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_SIGNALS, None)


def dialect_insert(session: AsyncSession) -> Any:
    """The dialect's INSERT construct, which knows `on_conflict_do_nothing` (SQLite and PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        return pg_insert
    return sqlite_insert


class UnitOfWork:
    """A write transaction opened on first use, so a handler can do network I/O before it takes the lock.

    The owner enters it with `async with`; it commits when the block succeeds and rolls back otherwise.
    """

    def __init__(self, db: Database, *, undoable: bool = False) -> None:
        self._db = db
        self._stack = AsyncExitStack()
        self._session: AsyncSession | None = None
        # With `undoable`, a savepoint follows the BEGIN, so `undo` can drop the work and keep the transaction.
        self._undoable = undoable
        self._savepoint: AsyncSessionTransaction | None = None

    async def session(self) -> AsyncSession:
        """The transaction's session, beginning the transaction if needed."""
        if self._session is None:
            self._session = await self._stack.enter_async_context(self._db.write())
            if self._undoable:
                self._savepoint = await self._session.begin_nested()
        return self._session

    async def undo(self) -> None:
        """Roll back what was written so far but keep the transaction open, for what is recorded instead.

        A refused request (a domain error) records its refusal in the same transaction, not in a second one.
        """
        self._undoable = False
        if self._savepoint is not None and self._savepoint.is_active:
            await self._savepoint.rollback()
        self._savepoint = None

    async def __aenter__(self) -> UnitOfWork:
        return self

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        return await self._stack.__aexit__(*exc_info)
