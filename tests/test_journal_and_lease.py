"""The inbound journal and the lease, as services on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.services import journal, lease
from storage.database import Database
from storage.models import InboundStatus

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


async def test_the_lease_is_held_renewed_and_taken_over_after_the_timeout(db: Database) -> None:
    timeout = timedelta(seconds=30)
    async with db.write() as session:
        assert await lease.hold_lease(session, "a", NOW, timeout)
    async with db.write() as session:
        assert not await lease.hold_lease(session, "b", NOW + timedelta(seconds=10), timeout)
        assert await lease.hold_lease(session, "a", NOW + timedelta(seconds=25), timeout)
    async with db.write() as session:
        assert not await lease.hold_lease(session, "b", NOW + timedelta(seconds=50), timeout)
        assert await lease.hold_lease(session, "b", NOW + timedelta(seconds=56), timeout)
        assert await lease.lease_holder(session) == "b"
    async with db.write() as session:
        assert not await lease.hold_lease(session, "a", NOW + timedelta(seconds=57), timeout)
        await lease.release_lease(session, "b")
        assert await lease.hold_lease(session, "a", NOW + timedelta(seconds=58), timeout)
