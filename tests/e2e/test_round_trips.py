"""What one update costs the database on the plain command path: transactions and statements, counted.

A `before_cursor_execute` listener sees every statement the engine sends, the `BEGIN IMMEDIATE` of a write
transaction and the `BEGIN` of a read among them (SQLite: `storage.database` emits them itself). A burst of
`/status`, `/saya` and `/start` from 30 chats arrives in one poll; the jobs are paused and the lease renewal is
slowed, so what is counted is the inbound path alone (plus the pump's slow safety read). Nothing here is timed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import event
from telegram import Update

from storage.database import Database
from storage.models import Role
from tests.e2e.harness import bot_settings, journal_rows, registered, running_bot
from tests.e2e.test_campaigns_chat import import_opds
from tests.fake_telegram.server import FakeBotAPI

pytestmark = pytest.mark.e2e

BURST = 30


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)


@contextmanager
def driver_trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Counts the calls aiosqlite runs in a connection's thread (each one a thread switch and a loop wake-up)."""
    calls: list[str] = []
    original = aiosqlite.Connection._execute  # noqa: SLF001

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(getattr(fn, "__qualname__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    yield calls


@contextmanager
def parses(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Counts python-telegram-bot's `Update.de_json` calls (the library's own function still does the work)."""
    calls: list[int] = []
    original = Update.de_json.__func__  # type: ignore[attr-defined]

    def counted(cls: type[Update], data: Any, bot: Any = None) -> Update:
        calls.append(data["update_id"])
        return original(cls, data, bot)  # type: ignore[no-any-return]

    monkeypatch.setattr(Update, "de_json", classmethod(counted))
    yield calls


async def test_a_burst_of_commands_costs_at_most_two_commits_per_update_and_reads_no_row_back(
    fake_telegram: FakeBotAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = bot_settings(fake_telegram, tmp_path, MONEV_LEASE_RENEW_SECONDS="30", MONEV_LEASE_TIMEOUT_SECONDS="90")
    async with running_bot(settings) as bot:
        await import_opds(bot)
        liaisons = [await registered(fake_telegram, bot, 8600 + n, Role.OPD, "DINKES") for n in range(20)]
        strangers = [fake_telegram.user(8700 + n) for n in range(BURST - len(liaisons))]
        await bot.wait_idle()
        await bot.app.scheduler.pause()  # the outbox, batch and sweep jobs: not the inbound path
        db = bot.app.services.db
        before = len(await journal_rows(db))
        with statements(db) as seen, parses(monkeypatch) as parsed, driver_trips(monkeypatch) as trips:
            for number, user in enumerate(liaisons):  # no await in between: one getUpdates takes them all
                user.send_text("/status" if number % 2 else "/saya")
            for user in strangers:
                user.send_text("/start")
            for user in [*liaisons, *strangers]:
                await fake_telegram.wait_for_messages(user.id, 2 if user in liaisons else 1)
            await bot.runtime.inbound["telegram"].queues.wait_idle()  # its replied marks written, too
        rows = (await journal_rows(db))[before:]
    assert len(rows) == BURST and all(r.status == "replied" for r in rows)
    for user in [*liaisons, *strangers]:  # every update answered once
        assert len([m for m in fake_telegram.sent_messages(user.id)]) == (2 if user in liaisons else 1)
    writes = [s for s in seen if s == "BEGIN IMMEDIATE"]
    reads = [s for s in seen if s == "BEGIN"]
    reloads = [s for s in seen if "FROM inbound_event" in s and "WHERE inbound_event.id = " in s]
    assert reloads == []  # the row is handled and replied as it was handed over, never read back
    # One journal commit for the poll, one unit per update, and the replied marks batched (before: 71 here).
    assert len(writes) <= 2 * BURST
    # The sender's lookup is one statement without a BEGIN of its own; what is left are the pump's safety reads
    # (before: 92, then one BEGIN per update for the sender).
    assert len(reads) <= 3, len(reads)
    assert len(parsed) == BURST  # each update is parsed by python-telegram-bot once
    # Before: about 15 statements per update (reloads, a replied mark of its own); now about 11.
    assert len(seen) <= 13 * BURST, len(seen)
    # One trip to the driver's thread per statement and per commit, none for the pool's rollback after a commit,
    # plus the pool's first connections (about 16 per update here; before: four per statement, 43 per update).
    assert len(trips) <= 20 * BURST, len(trips)
