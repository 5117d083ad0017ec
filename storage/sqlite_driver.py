"""aiosqlite with one trip to its thread per statement, for SQLAlchemy's aiosqlite dialect.

aiosqlite runs each sqlite3 call in the connection's own thread and wakes the event loop for every result.
SQLAlchemy's adapter makes four such calls per statement (open a cursor, execute, fetch the rows, close the
cursor) and one more per connection returned to the pool (a rollback, also after a commit). Each trip is a thread
switch and an event loop wake-up: on the plain command path they were most of an update's CPU (about 40 trips).
Here a cursor does its whole statement in one trip (open, execute, fetch, close, all in the thread that owns the
sqlite3 connection), and a rollback with no transaction open is not sent at all. Results are the same: the rows
are fetched in full, as SQLAlchemy's adapter does for every non-streaming cursor.

Write transactions of one process also take turns here, first come first served (`WriteTurns`), before their
`BEGIN IMMEDIATE` reaches SQLite. Left to SQLite, the writers that wait for its lock sleep in its busy handler (1 ms,
then longer, up to 100 ms between tries), so the lock often sat free while they slept, and under load one unlucky
writer could miss it for the whole 5 s busy timeout ("database busy, retrying").

It relies on aiosqlite's queue of calls (`Connection._execute`) and its sqlite3 connection (`_conn`), as
SQLAlchemy's own adapter does for `isolation_level` (pyproject pins aiosqlite below 1.0).
"""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any

import aiosqlite

_Description = tuple[tuple[Any, ...], ...] | None
WRITE_BEGIN = "BEGIN IMMEDIATE"
# A turn is awaited at most as long as SQLite's busy timeout (storage.database); past it, the BEGIN goes to SQLite,
# which waits and fails as it did before (a writer of this process stuck inside its transaction, or a nested one).
TURN_TIMEOUT = 5.0


class WriteTurns:
    """One queue of write transactions per database file and event loop: the lock SQLite would give, handed over
    at once and in order."""

    _locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = weakref.WeakKeyDictionary()

    @classmethod
    def lock_for(cls, database: str) -> asyncio.Lock:
        per_loop = cls._locks.setdefault(asyncio.get_running_loop(), {})
        return per_loop.setdefault(database, asyncio.Lock())


class OneTripCursor:
    """The subset of `aiosqlite.Cursor` SQLAlchemy uses; every statement is one call in the connection's thread."""

    arraysize = 1

    def __init__(self, connection: OneTripConnection) -> None:
        self._connection = connection
        self._rows: list[Any] = []
        self.description: _Description = None
        self.rowcount = -1
        self.lastrowid: int | None = None

    async def __aenter__(self) -> OneTripCursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        return None

    async def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] | None = None) -> OneTripCursor:
        run = partial(_run, sql, () if parameters is None else parameters, many=False)
        if sql != WRITE_BEGIN:
            self._take(await self._connection.call(run))
            return self
        await self._connection.take_turn()
        try:
            self._take(await self._connection.call(run))
        except BaseException:
            self._connection.end_turn()
            raise
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any] | dict[str, Any]]) -> OneTripCursor:
        self._take(await self._connection.call(partial(_run, sql, list(parameters), many=True)))
        return self

    def _take(self, outcome: tuple[list[Any], _Description, int, int | None]) -> None:
        self._rows, self.description, self.rowcount, self.lastrowid = outcome

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        count = self.arraysize if size is None else size
        rows, self._rows = self._rows[:count], self._rows[count:]
        return rows

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def close(self) -> None:
        self._rows = []


def _run(
    sql: str, parameters: Any, connection: sqlite3.Connection, *, many: bool
) -> tuple[list[Any], _Description, int, int | None]:
    """In the connection's thread: the whole statement, its rows and what the cursor says about it."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
        else:
            cursor.execute(sql, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return rows, cursor.description, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneTripConnection(aiosqlite.Connection):
    """An aiosqlite connection whose cursors take one trip per statement (see the module docstring)."""

    def __init__(self, database: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # An in-memory database is private to its connection: nothing to share, no turns.
        self._database = None if database == ":memory:" or "mode=memory" in database else database
        self._turn: asyncio.Lock | None = None
        self._turn_loop: asyncio.AbstractEventLoop | None = None

    async def take_turn(self) -> None:
        """Wait for this process's earlier write transactions on the same file to end (at most TURN_TIMEOUT)."""
        if self._database is None or self._turn is not None:
            return
        lock = WriteTurns.lock_for(self._database)
        try:
            async with asyncio.timeout(TURN_TIMEOUT):
                await lock.acquire()
        except TimeoutError:
            return
        self._turn, self._turn_loop = lock, asyncio.get_running_loop()

    def end_turn(self) -> None:
        lock, loop, self._turn, self._turn_loop = self._turn, self._turn_loop, None, None
        if lock is None or loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            lock.release()
        elif not loop.is_closed():  # from the garbage collector in another thread (a connection never closed)
            loop.call_soon_threadsafe(lock.release)

    async def commit(self) -> None:
        try:
            if self._conn.in_transaction:  # not after a statement run without BEGIN (`Database.read(one_statement)`)
                await super().commit()
        finally:
            self.end_turn()

    async def close(self) -> None:
        self.end_turn()
        await super().close()

    def __del__(self) -> None:
        # SQLAlchemy drops a new connection without closing it when its task is cancelled while the connection is
        # being set up (the PRAGMAs of `storage.database`'s connect listener): aiosqlite would warn from the garbage
        # collector, at a random later moment. The pool warns itself about connections it lost after checkout.
        if self._connection is not None:
            self.stop()

    def stop(self) -> asyncio.Future[Any] | None:
        # SQLAlchemy's forced close of a connection it gives up on (e.g. after a cancellation).
        self.end_turn()
        return super().stop()

    async def call(self, work: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run `work(sqlite3 connection)` in the connection's thread."""
        return await self._execute(lambda: work(self._conn))

    def cursor(self) -> OneTripCursor:  # type: ignore[override]
        return OneTripCursor(self)

    async def rollback(self) -> None:
        # The pool rolls back every connection it takes back, also right after a commit: nothing to undo then.
        # `in_transaction` only reads SQLite's autocommit flag; no statement of this connection runs meanwhile.
        try:
            if self._conn.in_transaction:
                await super().rollback()
        finally:
            self.end_turn()


def connect(*args: Any, **kwargs: Any) -> OneTripConnection:
    """What `aiosqlite.connect` does, with the one-trip connection (SQLAlchemy's `async_creator_fn`)."""
    database = str(args[0] if args else kwargs.get("database", ""))
    connection = OneTripConnection(database, partial(sqlite3.connect, *args, **kwargs), iter_chunk_size=64)
    connection._thread.daemon = True  # as SQLAlchemy's adapter does: a forgotten connection never blocks the exit
    return connection
