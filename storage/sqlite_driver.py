"""aiosqlite with one trip to its thread per statement, for SQLAlchemy's aiosqlite dialect.

aiosqlite runs each sqlite3 call in the connection's own thread and wakes the event loop for every result.
SQLAlchemy's adapter makes four such calls per statement (open a cursor, execute, fetch the rows, close the
cursor) and one more per connection returned to the pool (a rollback, also after a commit). Each trip is a thread
switch and an event loop wake-up: on the plain command path they were most of an update's CPU (about 40 trips).
Here a cursor does its whole statement in one trip (open, execute, fetch, close, all in the thread that owns the
sqlite3 connection), and a rollback with no transaction open is not sent at all. Results are the same: the rows
are fetched in full, as SQLAlchemy's adapter does for every non-streaming cursor.

It relies on aiosqlite's queue of calls (`Connection._execute`) and its sqlite3 connection (`_conn`), as
SQLAlchemy's own adapter does for `isolation_level` (pyproject pins aiosqlite below 1.0).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any

import aiosqlite

_Description = tuple[tuple[Any, ...], ...] | None


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
        self._take(await self._connection.call(run))
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

    async def call(self, work: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run `work(sqlite3 connection)` in the connection's thread."""
        return await self._execute(lambda: work(self._conn))

    def cursor(self) -> OneTripCursor:  # type: ignore[override]
        return OneTripCursor(self)

    async def rollback(self) -> None:
        # The pool rolls back every connection it takes back, also right after a commit: nothing to undo then.
        # `in_transaction` only reads SQLite's autocommit flag; no statement of this connection runs meanwhile.
        if self._conn.in_transaction:
            await super().rollback()


def connect(*args: Any, **kwargs: Any) -> OneTripConnection:
    """What `aiosqlite.connect` does, with the one-trip connection (SQLAlchemy's `async_creator_fn`)."""
    connection = OneTripConnection(partial(sqlite3.connect, *args, **kwargs), iter_chunk_size=64)
    connection._thread.daemon = True  # as SQLAlchemy's adapter does: a forgotten connection never blocks the exit
    return connection
