"""The reminder service on a real database: once per point, outbox rows expiring at the end of the working day and
never claimed after it, a point left undelivered recorded as skipped, nothing for a closed campaign, `/ingatkan`'s
refusals."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from bot.errors import DomainError
from bot.services import identity, lease, outbox, reminders, review, submissions
from bot.services.audit import Acting
from bot.settings import Settings
from storage.database import Database
from storage.models import (
    Campaign,
    Opd,
    OutboxMessage,
    Reminder,
    ReviewDecision,
    ReviewReason,
    RoleAssignment,
    SubmissionVersion,
)
from tests.conftest import make_settings
from tests.test_submissions import NOW, WIB, open_campaign, upload

H7_CLOSES = datetime(2026, 9, 1, 16, 0, tzinfo=WIB)  # NOW is Tuesday 1 September 2026 09:00, H-7 of the deadline


async def liaison_of(db: Database, opd_code: str, external_id: str) -> int:
    async with db.write() as session:
        person = await identity.ensure_local_person(session, "telegram", external_id, NOW)
        opd_id = await session.scalar(select(Opd.id).where(Opd.code == opd_code))
        session.add(RoleAssignment(person_id=person, role="opd", opd_id=opd_id, granted_at=NOW))
    return person


async def dinkes_rows(db: Database) -> list[OutboxMessage]:
    async with db.read() as session:
        opd_id = await session.scalar(select(Opd.id).where(Opd.code == "DINKES"))
        return list(
            (
                await session.scalars(
                    select(OutboxMessage).where(OutboxMessage.opd_id == opd_id, OutboxMessage.kind == "pengingat")
                )
            ).all()
        )


@pytest.fixture
def reminder_settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data")


async def test_a_point_is_recorded_once_with_rows_that_expire_at_the_end_of_the_day(
    db: Database, reminder_settings: Settings
) -> None:
    await open_campaign(db)
    person = await liaison_of(db, "DINKES", "601")
    async with db.write() as session:
        tick = await reminders.send_due_reminders(session, reminder_settings, NOW)
    dinkes = [s for s in tick.sent if s.digest.opd_code == "DINKES"]
    assert len(dinkes) == 1 and dinkes[0].point == "2026-09-01" and dinkes[0].liaisons == 1
    assert dinkes[0].digest.label == "H-7" and not dinkes[0].digest.late and dinkes[0].digest.owed
    (row,) = await dinkes_rows(db)
    assert row.person_id == person and row.expires_at == H7_CLOSES and row.reminder_id is not None

    async with db.write() as session:
        again = await reminders.send_due_reminders(session, reminder_settings, NOW + timedelta(hours=3))
    assert again.sent == () and len(await dinkes_rows(db)) == 1

    # "Once" is a database fact: a second record of the same point and deadline is refused.
    with pytest.raises(IntegrityError):
        async with db.write() as session:
            first = await session.get_one(Reminder, row.reminder_id)
            session.add(
                Reminder(
                    campaign_id=first.campaign_id,
                    opd_id=first.opd_id,
                    point=first.point,
                    deadline=first.deadline,
                    label="H-7",
                    state="sent",
                    created_at=NOW,
                )
            )


async def test_an_expired_row_is_never_claimed_and_its_point_is_recorded_skipped(
    db: Database, reminder_settings: Settings
) -> None:
    await open_campaign(db)
    await liaison_of(db, "DINKES", "601")
    async with db.write() as session:
        await reminders.send_due_reminders(session, reminder_settings, H7_CLOSES - timedelta(minutes=1))
    async with db.write() as session:
        grant = await lease.hold_lease(session, "uji", H7_CLOSES, timedelta(seconds=30))
    assert grant is not None
    async with db.write() as session:
        claimed = await outbox.claim_due(session, H7_CLOSES, grant.fence, ["telegram"])
    assert claimed == []  # due at 15:59, worth nothing from 16:00
    async with db.write() as session:
        tick = await reminders.send_due_reminders(session, reminder_settings, NOW + timedelta(days=1))
    assert tick.expired >= 1 and tick.skipped >= 1
    (row,) = await dinkes_rows(db)
    async with db.read() as session:
        reminder = await session.get_one(Reminder, row.reminder_id)
    assert (row.status, reminder.state) == ("expired", "skipped")


async def test_complete_opds_and_closed_campaigns_get_nothing(
    db: Database, reminder_settings: Settings, tmp_path: Path
) -> None:
    scope, liaison = await open_campaign(db)
    await liaison_of(db, "DINKES", "601")
    async with db.read() as session:
        required = [i.code for i in (await submissions.progress(session, scope)).items if i.required]
    for code in required:
        await upload(db, scope, liaison, [code.encode()], code, tmp_path)
    async with db.write() as session:
        tick = await reminders.send_due_reminders(session, reminder_settings, NOW)
    assert "DINKES" not in {s.digest.opd_code for s in tick.sent} and tick.sent  # the others still owe
    async with db.read() as session:
        complete = await submissions.progress(session, scope)
        assert await reminders.next_reminder(session, reminder_settings, complete, NOW) is None  # /status says none

    # The Kasi returns one item: DINKES owes exactly that one, and is reminded of it on the next point.
    async with db.write() as session:
        kasi = Acting(await identity.ensure_local_person(session, "telegram", "901", NOW), "kasi", "telegram")
        version_id = await session.scalar(
            select(SubmissionVersion.id)
            .where(SubmissionVersion.opd_id == scope.opd_id)
            .order_by(SubmissionVersion.id)
            .limit(1)
        )
        assert version_id is not None
        returned = await review.decide(
            session, scope.campaign_id, version_id, ReviewDecision.REVISION_REQUESTED,
            note="Mohon SK yang ditandatangani", reason=ReviewReason.TIDAK_LENGKAP, acting=kasi, now=NOW,
        )  # fmt: skip
    async with db.write() as session:
        h3 = await reminders.send_due_reminders(session, reminder_settings, NOW + timedelta(days=3))  # Friday
    (dinkes,) = [s for s in h3.sent if s.digest.opd_code == "DINKES"]
    assert [(i.code, i.state) for i in dinkes.digest.owed] == [(returned.item_code, "perlu_revisi")]
    assert (dinkes.digest.missing, dinkes.digest.returned) == (0, 1)

    async with db.write() as session:
        await session.execute(update(Campaign).values(state="closed"))
    async with db.write() as session:
        later = await reminders.send_due_reminders(session, reminder_settings, NOW + timedelta(days=6))
        closed = await submissions.scope_in(session, "DINKES", scope.campaign_id, viewing=True)
        assert closed is not None
        shown = await submissions.progress(session, closed)
        assert await reminders.next_reminder(session, reminder_settings, shown, NOW) is None
    assert later.sent == ()  # (the H-3 row, never delivered here, is given up and its point recorded skipped)


async def test_remind_now_refuses_other_roles_and_opds_not_taking_part(
    db: Database, reminder_settings: Settings
) -> None:
    await open_campaign(db)
    async with db.write() as session:
        kabid = Acting(await identity.ensure_local_person(session, "telegram", "900", NOW), "kabid", "telegram")
        admin = Acting(kabid.person_id, "admin", "telegram")
        with pytest.raises(DomainError) as refused:
            await reminders.remind_now(session, reminder_settings, None, acting=kabid, now=NOW)
        assert refused.value.template == "pengingat/tidak_berwenang"
        with pytest.raises(DomainError) as unknown:
            await reminders.remind_now(session, reminder_settings, "ZZZ", acting=admin, now=NOW)
        assert unknown.value.template == "pengingat/opd_bukan_peserta"
        done = await reminders.remind_now(session, reminder_settings, "dinkes", acting=admin, now=NOW)
    assert [s.digest.opd_code for s in done.reminded] == ["DINKES"] and done.reminded[0].point.startswith("manual:")
