"""The outbox's sender writes are fenced by the lease epoch, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.conversation.core import Reply
from bot.conversation.envelope import Envelope
from bot.messaging.delivery import Identity
from bot.services import lease, outbox
from storage.database import Database
from storage.models import ChannelIdentity, DeliveryAttempt, OutboxMessage, OutboxStatus, Person
from tests.test_journal_and_lease import age_the_lease

WIB = ZoneInfo("Asia/Pontianak")
TIMEOUT = timedelta(seconds=30)


async def person_on(db: Database, channel: str, external_id: str, now: datetime) -> int:
    async with db.write() as session:
        person = Person(display_name="Penghubung", created_at=now)
        session.add(person)
        await session.flush()
        session.add(ChannelIdentity(person_id=person.id, channel=channel, external_id=external_id, created_at=now))
        return person.id


async def take(db: Database, holder: str) -> lease.Fence:
    async with db.write() as session:
        grant = await lease.hold_lease(session, holder, datetime.now(WIB), TIMEOUT)
    assert grant is not None
    return grant.fence


async def statuses(db: Database) -> list[str]:
    async with db.read() as session:
        return list((await session.scalars(select(OutboxMessage.status).order_by(OutboxMessage.id))).all())


async def test_a_holder_whose_lease_was_taken_over_can_neither_claim_nor_record(db: Database) -> None:
    now = datetime.now(WIB)
    person = await person_on(db, "telegram", "1001", now)
    async with db.write() as session:
        for text in ("satu", "dua", "tiga"):
            await outbox.enqueue(
                session, person_id=person, message=Envelope.from_reply("pemberitahuan", Reply(text)), now=now
            )
    stalled = await take(db, "a")
    async with db.write() as session:
        first, second = await outbox.claim_due(session, now, stalled, ["telegram"], limit=2)

    await age_the_lease(db, 60)  # "a" stalled past the timeout; "b" takes over and releases what "a" held
    standby = await take(db, "b")
    assert standby.epoch == stalled.epoch + 1
    async with db.write() as session:
        assert await outbox.release_in_flight(session, stalled) == 0
        assert await outbox.release_in_flight(session, standby) == 2

    async with db.write() as session:
        assert await outbox.claim_due(session, now, stalled, ["telegram"]) == []
        sent = dict(channel="telegram", chat_id="1001", now=now)
        assert not await outbox.record_outcome(session, first.id, OutboxStatus.SENT, fence=stalled, **sent)
        await outbox.release(session, [second.id], stalled)
    assert await statuses(db) == ["pending", "pending", "pending"]
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(DeliveryAttempt)) == 0

    async with db.write() as session:
        claimed = await outbox.claim_due(session, now, standby, ["telegram"])
        assert [m.envelope.text for m in claimed] == ["satu", "dua", "tiga"]
        assert await outbox.record_outcome(session, first.id, OutboxStatus.SENT, fence=standby, **sent)
        # The stalled holder's late outcome for a message the new holder is sending changes nothing.
        assert not await outbox.record_outcome(session, second.id, OutboxStatus.SENT, fence=stalled, **sent)
    assert await statuses(db) == ["sent", "sending", "sending"]


async def test_a_message_for_a_channel_not_running_waits_for_it(db: Database) -> None:
    now = datetime.now(WIB)
    on_telegram = await person_on(db, "telegram", "2002", now)
    on_console = await person_on(db, "console", "operator/admin", now)
    nowhere = await person_on(db, "cli", "operator", now)
    async with db.write() as session:
        for person in (on_telegram, on_console, nowhere):
            await outbox.enqueue(
                session, person_id=person, message=Envelope.from_reply("pemberitahuan", Reply("halo")), now=now
            )
    fence = await take(db, "a")
    async with db.write() as session:
        unreachable = await outbox.claim_due(session, now, fence, [])
    # Only the person with no account to read it on is taken (to be recorded unreachable); the others wait: the
    # console person for their next shell.
    assert [m.person_id for m in unreachable] == [nowhere]
    async with db.write() as session:
        with_telegram = await outbox.claim_due(session, now, fence, ["telegram"])
        where = await outbox.targets(session, [on_telegram], ["telegram"])
    assert [m.person_id for m in with_telegram] == [on_telegram]
    assert where == {on_telegram: [Identity("telegram", "2002", on_telegram, "Penghubung", None)]}
