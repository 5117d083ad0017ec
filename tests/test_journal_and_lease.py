"""The inbound journal and the lease, as services on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from bot.services import journal, lease
from storage import migrate
from storage.database import Database
from storage.models import InboundStatus, Lease

WIB = ZoneInfo("Asia/Pontianak")
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=WIB)


async def test_an_update_is_journaled_once(db: Database) -> None:
    async with db.write() as session:
        first = await journal.record_inbound(session, "telegram", "10", "1001", {"update_id": 10}, NOW)
        again = await journal.record_inbound(session, "telegram", "10", "1001", {"update_id": 10}, NOW)
        other_channel = await journal.record_inbound(session, "whatsapp", "10", "1001", {"id": "x"}, NOW)
    assert first is not None and again is None and other_channel is not None
    async with db.read() as session:
        (row,) = await journal.rows_to_resume(session, "telegram")
    assert (row.status, row.payload, row.chat_key) == (InboundStatus.PENDING, {"update_id": 10}, "1001")


async def test_an_update_id_that_comes_back_after_a_week_is_a_new_update(db: Database, caplog) -> None:  # type: ignore[no-untyped-def]
    """Telegram chooses the next update_id anew after a week without updates: an old row's id is not a redelivery."""
    async with db.write() as session:
        first = await journal.record_inbound(session, "telegram", "20", "1001", {"update_id": 20, "n": 1}, NOW)
    with caplog.at_level("INFO", logger="bot.services.journal"):
        async with db.write() as session:
            redelivered = await journal.record_inbound(
                session, "telegram", "20", "1001", {"update_id": 20, "n": 1}, NOW + timedelta(days=6)
            )
    assert redelivered is None
    assert ["telegram update 20 is already journaled: a redelivery, dropped"] == [
        r.getMessage() for r in caplog.records
    ]
    async with db.write() as session:
        later = await journal.record_inbound(
            session, "telegram", "20", "1001", {"update_id": 20, "n": 2}, NOW + timedelta(days=8)
        )
    assert later is not None and later != first
    async with db.read() as session:
        old, new = await journal.load_row_by_id(session, first), await journal.load_row_by_id(session, later)
    assert old is not None and new is not None
    assert (old.update_key, old.payload) == (f"20~{first}", {"update_id": 20, "n": 1})  # kept, under a retired key
    assert (new.update_key, new.payload) == ("20", {"update_id": 20, "n": 2})


async def test_rows_move_from_pending_to_done_to_replied(db: Database) -> None:
    async with db.write() as session:
        row_id = await journal.record_inbound(session, "telegram", "11", "1", {"update_id": 11}, NOW)
    assert row_id is not None
    async with db.write() as session:
        assert await journal.mark_done(session, row_id, [{"text": "halo"}], NOW)
        assert not await journal.mark_done(session, row_id, [{"text": "dua kali"}], NOW)
    async with db.read() as session:
        (unreplied,) = await journal.rows_to_resume(session, "telegram")
        assert await journal.rows_to_resume(session, "telegram", only_pending=True) == []
    assert unreplied.awaits_reply and unreplied.replies == [{"text": "halo"}]
    async with db.write() as session:
        await journal.mark_replied(session, row_id, NOW)
    async with db.read() as session:
        assert await journal.rows_to_resume(session, "telegram") == []
        assert (await journal.health(session)).backlog == 0


async def test_three_failures_mark_a_row_failed(db: Database) -> None:
    async with db.write() as session:
        row_id = await journal.record_inbound(session, "telegram", "12", "1", {"update_id": 12}, NOW)
    assert row_id is not None
    for expected in (1, 2, 3):
        async with db.write() as session:
            assert await journal.record_failure(session, row_id, "boom", NOW) == expected
    async with db.write() as session:
        await journal.mark_failed(session, row_id, [{"text": "maaf"}], NOW)
    async with db.read() as session:
        health = await journal.health(session)
        (row,) = await journal.rows_to_resume(session, "telegram")
    assert (health.failed, health.backlog) == (1, 0)
    assert row.awaits_reply and row.status == InboundStatus.FAILED  # the apology still goes out
    async with db.write() as session:
        await journal.mark_replied(session, row_id, NOW)
    async with db.read() as session:
        assert await journal.rows_to_resume(session, "telegram") == []
        assert (await journal.health(session)).failed == 1


async def test_old_payloads_are_purged_only_when_finished(db: Database) -> None:
    old = NOW - timedelta(days=31)
    async with db.write() as session:
        done_id = await journal.record_inbound(session, "telegram", "1", "1", {"secret": "nomor"}, old)
        pending_id = await journal.record_inbound(session, "telegram", "2", "1", {"keep": True}, old)
        fresh_id = await journal.record_inbound(session, "telegram", "3", "1", {"keep": True}, NOW)
    assert done_id and pending_id and fresh_id
    async with db.write() as session:
        for row_id in (done_id, fresh_id):
            await journal.mark_done(session, row_id, [], old)
            await journal.mark_replied(session, row_id, old)
        assert await journal.purge_old_payloads(session, NOW) == 1
    async with db.read() as session:
        payloads = {
            row_id: (await journal.load_row_by_id(session, row_id)).payload  # type: ignore[union-attr]
            for row_id in (done_id, pending_id, fresh_id)
        }
    assert payloads == {done_id: None, pending_id: {"keep": True}, fresh_id: {"keep": True}}


async def age_the_lease(db: Database, seconds: float) -> None:
    """The holder stopped renewing `seconds` ago, by the database's clock (a stalled or dead instance)."""
    async with db.write() as session:
        renewed = await session.scalar(select(Lease.renewed_at))
        assert renewed is not None
        await session.execute(update(Lease).values(renewed_at=renewed - timedelta(seconds=seconds)))


async def test_the_lease_is_held_renewed_and_taken_over_after_the_timeout(db: Database) -> None:
    timeout = timedelta(seconds=30)
    now = datetime.now(WIB)
    async with db.write() as session:
        first = await lease.hold_lease(session, "a", now, timeout)
    async with db.write() as session:
        assert await lease.hold_lease(session, "b", now, timeout) is None
        renewed = await lease.hold_lease(session, "a", now, timeout)
    assert first is not None and renewed is not None and renewed.fence == first.fence
    await age_the_lease(db, 25)
    async with db.write() as session:
        assert await lease.hold_lease(session, "b", now, timeout) is None
    await age_the_lease(db, 60)
    async with db.write() as session:
        taken = await lease.hold_lease(session, "b", now, timeout)
        assert await lease.lease_holder(session) == "b"
    async with db.write() as session:
        assert await lease.hold_lease(session, "a", now, timeout) is None
        await lease.release_lease(session, "b")
        back = await lease.hold_lease(session, "a", now, timeout)
    assert first is not None and taken is not None and back is not None
    # Every takeover is a new epoch; a renewal keeps it.
    assert (first.fence, taken.fence, back.fence) == (
        lease.Fence("a", first.fence.epoch),
        lease.Fence("b", first.fence.epoch + 1),
        lease.Fence("a", first.fence.epoch + 2),
    )


async def test_a_standby_with_a_fast_clock_does_not_steal_a_live_lease(db: Database) -> None:
    """The database's clock decides expiry: an instance whose clock runs an hour ahead takes nothing."""
    timeout = timedelta(seconds=30)
    now = datetime.now(WIB)
    async with db.write() as session:
        held = await lease.hold_lease(session, "a", now, timeout)
    async with db.write() as session:
        stolen = await lease.hold_lease(session, "b", now + timedelta(hours=1), timeout)
        holder = await lease.lease_holder(session)
    assert held is not None and stolen is None and holder == "a"
    async with db.write() as session:
        # A holder whose own clock lags keeps renewing, and learns how far off its clock is.
        renewed = await lease.hold_lease(session, "a", now - timedelta(hours=1), timeout)
    assert renewed is not None and renewed.fence == held.fence
    assert timedelta(minutes=59) < -renewed.clock_skew < timedelta(minutes=61)


async def test_acquired_at_is_stored_as_the_instant_of_the_takeover(db: Database) -> None:
    timeout = timedelta(seconds=30)
    async with db.write() as session:
        assert await lease.hold_lease(session, "a", datetime.now(WIB), timeout)
    await age_the_lease(db, 60)
    async with db.write() as session:
        assert await lease.hold_lease(session, "b", datetime.now(WIB), timeout)
    async with db.read() as session:
        row = await session.get_one(Lease, lease.MAIN_LEASE)
    utc_now = datetime.now(UTC)
    assert row.holder == "b" and row.acquired_at.tzinfo is not None
    assert abs(row.acquired_at - utc_now) < timedelta(seconds=30)  # not 7 hours off
    assert abs(row.renewed_at - row.acquired_at) < timedelta(seconds=1)


async def test_a_stalled_transaction_is_ended_by_postgresql_so_its_locks_cannot_hold_up_a_takeover(
    postgres_url: str,
) -> None:
    """The running bot's engine asks PostgreSQL to end a session idle inside its transaction (`bot.app`)."""
    stalled = Database(postgres_url, idle_transaction_timeout=0.1)
    try:
        await migrate.upgrade(stalled)
        async with stalled.engine.connect() as connection:
            shown = await connection.scalar(text("SHOW idle_in_transaction_session_timeout"))
            assert shown == "100ms"
            await connection.execute(text("SELECT 1"))  # a transaction is open now, and waits for us
            await asyncio.sleep(0.4)  # PostgreSQL's own timer, which no clock of ours can move
            with pytest.raises(DBAPIError):
                await connection.execute(text("SELECT 1"))
    finally:
        await stalled.dispose()
