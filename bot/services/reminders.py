"""Reminders: on each schedule point, one digest per OPD that still owes items, to its liaisons, at most once.

The schedule (bot.domain.reminders) follows each OPD's effective deadline on the working calendar. The tick asks
`send_due_reminders` "what is due now?": for each OPD of an open campaign whose point is due and not yet recorded,
it writes the reminder record and the outbox rows in one transaction (the record's unique key makes "once" a
database fact); the rows expire when the working day ends, and a point nobody delivered in its window is recorded
as skipped, never sent late. From the first overdue point the OPD's Kepala OPD gets an escalation too.
`/ingatkan` sends one now (`remind_now`) under a key of its own, which never stands in for a scheduled point.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation.envelope import Envelope
from bot.domain import reminders as schedule
from bot.domain.enums import CampaignState, OutboxStatus, ReminderState, Role
from bot.domain.reminders import SchedulePoint
from bot.errors import DomainError
from bot.services import audit, deadlines, outbox, submissions
from bot.services.audit import Acting
from bot.services.calendar import WorkingCalendar, load_overrides, package_holidays
from bot.services.submissions import Scope
from bot.settings import Settings
from storage.database import dialect_insert
from storage.models import Campaign, CampaignEvent, OutboxMessage, Reminder, RoleAssignment

logger = logging.getLogger(__name__)

REMINDER_KIND = "pengingat"
ESCALATION_KIND = "eskalasi"
MANUAL_LABEL = "manual"
# Who may send a reminder now (CONTRACT: `/ingatkan`).
REMINDERS_BY_HAND = frozenset({Role.ADMIN, Role.KASI})
# A campaign open without an "open" event (set open directly) counts as open since ever.
NEVER = datetime.min.replace(tzinfo=UTC)
# The scheduler's own entries in the audit log.
SCHEDULE = Acting(None, None, "jadwal")


@dataclass(frozen=True)
class OwedItem:
    """An item the OPD still owes: not sent yet (`belum`) or returned for revision (`perlu_revisi`)."""

    code: str
    title: str
    state: str


@dataclass(frozen=True)
class Digest:
    """What one reminder says to an OPD's liaisons (and, escalated, to its Kepala OPD)."""

    campaign_id: int
    title: str
    opd_code: str
    opd_name: str
    deadline: datetime
    label: str  # the point ("H-7", "H-1", "T+2") or "manual"
    late: bool  # past the effective deadline: the text says "terlambat sejak …"
    owed: tuple[OwedItem, ...]

    @property
    def missing(self) -> int:
        return sum(1 for i in self.owed if i.state == "belum")

    @property
    def returned(self) -> int:
        return sum(1 for i in self.owed if i.state == "perlu_revisi")


@dataclass(frozen=True)
class Sent:
    """One reminder written to the outbox: to whom (counts) and for which point."""

    digest: Digest
    point: str
    liaisons: int
    heads: int  # Kepala OPD escalated to


@dataclass(frozen=True)
class Tick:
    """What one run of the tick did."""

    sent: tuple[Sent, ...]
    skipped: int  # points recorded as skipped (missed windows, or queued and expired undelivered)
    expired: int  # outbox rows given up at the end of their working day


@dataclass(frozen=True)
class ManualResult:
    """What `/ingatkan` did: the OPDs reminded, and those named that owe nothing."""

    reminded: tuple[Sent, ...]
    complete: tuple[str, ...]  # OPD codes left alone: nothing owed


@dataclass(frozen=True)
class PlannedPoint:
    """One point of a campaign's schedule as `/kegiatan #ID` lists it."""

    day: date
    opens: datetime
    labels: tuple[str, ...]
    overdue: int
    sent: int  # OPDs reminded on it
    skipped: int  # OPDs whose reminder on it was skipped


def reminding_role(held: frozenset[Role] | set[Role]) -> Role | None:
    """The role `/ingatkan` is audited in (admin, then Kasi); None (refused) for anyone else."""
    return next((r for r in (Role.ADMIN, Role.KASI) if r in held), None)


@functools.lru_cache(maxsize=4)
def _package_holidays(years: tuple[int, ...]) -> Mapping[date, str]:
    # Computing three years of holidays takes tens of milliseconds: not inside every tick's write transaction.
    return package_holidays(years)


async def calendar_for(session: AsyncSession, settings: Settings, now: datetime) -> WorkingCalendar:
    """The working calendar around `now` (other years load on demand), with the overrides as they are now."""
    year = now.astimezone(settings.timezone).year
    return WorkingCalendar(
        zone=settings.timezone,
        workday_start=settings.workday_start,
        workday_end=settings.workday_end,
        holidays=_package_holidays((year - 1, year, year + 1)),
        overrides=await load_overrides(session),
    )


def points_for(deadline: datetime, calendar: WorkingCalendar, settings: Settings) -> tuple[SchedulePoint, ...]:
    """The schedule of one effective deadline on this calendar and these settings."""
    return schedule.schedule_points(
        deadline,
        zone=settings.timezone,
        is_working_day=calendar.is_working_day,
        reminder_time=settings.reminder_time,
        workday_end=settings.workday_end,
        overdue_days=settings.overdue_reminder_days,
    )


async def send_due_reminders(session: AsyncSession, settings: Settings, now: datetime) -> Tick:
    """Queue every reminder due at `now`, record missed points as skipped; the caller commits."""
    expired = await outbox.expire(session, now)
    skipped = await _skip_undelivered(session)
    calendar = await calendar_for(session, settings, now)
    opened = await _opened_at(session)
    sent: list[Sent] = []
    for scope in await submissions.campaign_scopes(session, states=(CampaignState.OPEN,)):
        points = points_for(scope.deadline, calendar, settings)
        since = opened.get(scope.campaign_id, NEVER)
        due = schedule.due_point(points, now, since)
        wanted = [*schedule.missed_points(points, now, since), *([due] if due else [])]
        if not wanted:
            continue
        recorded = await _recorded_points(session, scope)
        wanted = [p for p in wanted if p.key not in recorded]
        if not wanted:
            continue
        digest = await _digest(session, scope, label="")
        if not digest.owed:
            continue  # complete: nothing to remind of, nothing to record
        for point in wanted:
            if point is due:
                reminder_id = await _claim(session, scope, point, ReminderState.SENT, now)
                if reminder_id is not None:
                    sent.append(await _send(session, scope, point, reminder_id, digest, now))
            else:
                if await _claim(session, scope, point, ReminderState.SKIPPED, now) is None:
                    continue
                skipped += 1
                logger.info(
                    "reminder point %s of campaign %d for %s skipped: its window passed",
                    point.key,
                    scope.campaign_id,
                    scope.opd_code,
                )
    await session.flush()
    return Tick(tuple(sent), skipped, expired)


async def remind_now(
    session: AsyncSession,
    settings: Settings,
    opd_code: str | None,
    *,
    acting: Acting,
    now: datetime,
    campaign_id: int | None = None,
    allowed: Collection[Role] = REMINDERS_BY_HAND,
) -> ManualResult:
    """`/ingatkan [OPD_CODE|semua]`: a reminder now to the OPD (None: every OPD) of each open campaign that owes.

    Its own key ("manual:<time>"), so the schedule goes on as if it had not been sent. Refused for roles other
    than admin and Kasi, with no campaign open, and for an OPD that takes part in none.
    """
    if acting.person_id is None or acting.role is None or Role(acting.role) not in allowed:
        raise DomainError("pengingat/tidak_berwenang")
    scopes = await submissions.campaign_scopes(session, states=(CampaignState.OPEN,))
    if campaign_id is not None:  # the recap's "Ingatkan yang tertinggal": that campaign's OPDs only
        scopes = [s for s in scopes if s.campaign_id == campaign_id]
    if not scopes:
        raise DomainError("pengingat/tidak_ada_kegiatan")
    if opd_code is not None:
        scopes = [s for s in scopes if s.opd_code == opd_code.upper()]
        if not scopes:
            raise DomainError("pengingat/opd_bukan_peserta", opd=opd_code.upper()[:16])
    reminded: list[Sent] = []
    complete: list[str] = []
    for scope in scopes:
        digest = await _digest(session, scope, label=MANUAL_LABEL, late=now > scope.deadline)
        if not digest.owed:
            complete.append(scope.opd_code)
            continue
        reminder = _record(scope, f"manual:{now.isoformat()}", MANUAL_LABEL, ReminderState.MANUAL, now)
        reminder.person_id = acting.person_id
        session.add(reminder)
        await session.flush()
        liaisons = await _people(session, scope.opd_id, Role.OPD)
        message = Envelope.of(REMINDER_KIND, "pengingat/pengingat", d=digest)
        for person_id in liaisons:
            await outbox.enqueue(
                session,
                person_id=person_id,
                message=message,
                now=now,
                campaign_id=scope.campaign_id,
                opd_id=scope.opd_id,
                reminder_id=reminder.id,
            )
        await audit.record(
            session,
            acting,
            "reminder_sent",
            now,
            object_type="campaign",
            object_id=scope.campaign_id,
            opd=scope.opd_code,
            point=MANUAL_LABEL,
            liaisons=len(liaisons),
        )
        reminded.append(Sent(digest, reminder.point, len(liaisons), 0))
    return ManualResult(tuple(reminded), tuple(sorted(set(complete) - {s.digest.opd_code for s in reminded})))


async def next_reminder(
    session: AsyncSession, settings: Settings, state: submissions.Progress, now: datetime
) -> SchedulePoint | None:
    """The OPD's next reminder point (due now or to come); None once over, not collecting, or nothing owed."""
    scope = state.scope
    if scope.state != CampaignState.OPEN or not owed_items(state):
        return None
    points = points_for(scope.deadline, await calendar_for(session, settings, now), settings)
    recorded = await _recorded_points(session, scope)
    since = (await _opened_at(session)).get(scope.campaign_id, NEVER)
    return next((p for p in points if now < p.closes and p.opens >= since and p.key not in recorded), None)


async def campaign_schedule(
    session: AsyncSession, settings: Settings, campaign_id: int, now: datetime
) -> tuple[PlannedPoint, ...]:
    """The schedule on the campaign's common deadline (extensions give an OPD points of its own), with counts."""
    deadline = await deadlines.effective_deadline(session, campaign_id, None)
    points = points_for(deadline, await calendar_for(session, settings, now), settings)
    counts: dict[tuple[str, str], int] = {
        (point, state): count
        for point, state, count in (
            await session.execute(
                select(Reminder.point, Reminder.state, func.count())
                .where(Reminder.campaign_id == campaign_id, Reminder.deadline == deadline)
                .group_by(Reminder.point, Reminder.state)
            )
        ).all()
    }
    return tuple(
        PlannedPoint(
            p.day,
            p.opens,
            p.labels,
            p.overdue,
            counts.get((p.key, ReminderState.SENT.value), 0),
            counts.get((p.key, ReminderState.SKIPPED.value), 0),
        )
        for p in points
    )


async def _claim(
    session: AsyncSession, scope: Scope, point: SchedulePoint, state: ReminderState, now: datetime
) -> int | None:
    """Record the point; None when it is recorded already (a tick running at the same moment won it)."""
    insert = dialect_insert(session)
    return await session.scalar(
        insert(Reminder)
        .values(
            campaign_id=scope.campaign_id,
            opd_id=scope.opd_id,
            point=point.key,
            deadline=scope.deadline,
            label=" ".join(point.labels)[:24],
            state=state.value,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["campaign_id", "opd_id", "point", "deadline"])
        .returning(Reminder.id)
    )


async def _send(
    session: AsyncSession, scope: Scope, point: SchedulePoint, reminder_id: int, owed: Digest, now: datetime
) -> Sent:
    """The outbox rows of a recorded point, in its transaction: liaisons, and the Kepala OPD once overdue."""
    digest = Digest(
        owed.campaign_id,
        owed.title,
        owed.opd_code,
        owed.opd_name,
        owed.deadline,
        point.label,
        point.overdue > 0 or now > owed.deadline,  # a deadline before the reminder time is past already
        owed.owed,
    )
    liaisons = await _people(session, scope.opd_id, Role.OPD)
    heads = await _people(session, scope.opd_id, Role.KEPALA_OPD) if point.overdue else []
    queued = [
        *((person_id, Envelope.of(REMINDER_KIND, "pengingat/pengingat", d=digest)) for person_id in liaisons),
        *((person_id, Envelope.of(ESCALATION_KIND, "pengingat/eskalasi", d=digest)) for person_id in heads),
    ]
    for person_id, message in queued:
        await outbox.enqueue(
            session,
            person_id=person_id,
            message=message,
            now=now,
            campaign_id=scope.campaign_id,
            opd_id=scope.opd_id,
            expires_at=point.closes,
            reminder_id=reminder_id,
        )
    await audit.record(
        session,
        SCHEDULE,
        "reminder_sent",
        now,
        object_type="campaign",
        object_id=scope.campaign_id,
        opd=scope.opd_code,
        point=point.key,
        label=" ".join(point.labels),
        deadline=scope.deadline.isoformat(),
        liaisons=len(liaisons),
        heads=len(heads),
    )
    logger.info(
        "reminder %s of campaign %d queued for %s: %d liaisons, %d heads",
        point.key,
        scope.campaign_id,
        scope.opd_code,
        len(liaisons),
        len(heads),
    )
    return Sent(digest, point.key, len(liaisons), len(heads))


def _record(scope: Scope, point: str, label: str, state: ReminderState, now: datetime) -> Reminder:
    return Reminder(
        campaign_id=scope.campaign_id,
        opd_id=scope.opd_id,
        point=point,
        deadline=scope.deadline,
        label=label[:24],
        state=state.value,
        created_at=now,
    )


async def _digest(session: AsyncSession, scope: Scope, *, label: str, late: bool = False) -> Digest:
    """The digest of the OPD's owed items."""
    owed = owed_items(await submissions.progress(session, scope))
    return Digest(scope.campaign_id, scope.title, scope.opd_code, scope.opd_name, scope.deadline, label, late, owed)


def owed_items(state: submissions.Progress) -> tuple[OwedItem, ...]:
    """Required items not sent or returned for revision: what keeps the OPD incomplete."""
    return tuple(
        OwedItem(i.code, i.title, i.state) for i in state.items if i.required and i.state in ("belum", "perlu_revisi")
    )


async def _recorded_points(session: AsyncSession, scope: Scope) -> set[str]:
    """The points already recorded for this OPD and effective deadline."""
    rows = await session.scalars(
        select(Reminder.point).where(
            Reminder.campaign_id == scope.campaign_id,
            Reminder.opd_id == scope.opd_id,
            Reminder.deadline == scope.deadline,
        )
    )
    return set(rows.all())


async def _opened_at(session: AsyncSession) -> dict[int, datetime]:
    """When each campaign opened: points whose window passed before that were never due."""
    rows = await session.execute(
        select(CampaignEvent.campaign_id, func.min(CampaignEvent.at))
        .join(Campaign, Campaign.id == CampaignEvent.campaign_id)
        .where(Campaign.state == CampaignState.OPEN.value, CampaignEvent.kind == "open")
        .group_by(CampaignEvent.campaign_id)
    )
    return {campaign_id: at for campaign_id, at in rows.all()}


async def _people(session: AsyncSession, opd_id: int, role: Role) -> list[int]:
    rows = await session.scalars(
        select(RoleAssignment.person_id)
        .where(RoleAssignment.opd_id == opd_id, RoleAssignment.role == role.value, RoleAssignment.revoked_at.is_(None))
        .distinct()
        .order_by(RoleAssignment.person_id)
    )
    return list(rows.all())


async def _skip_undelivered(session: AsyncSession) -> int:
    """Scheduled reminders whose every outbox row expired unsent: recorded as skipped."""
    own = OutboxMessage.reminder_id == Reminder.id
    result = await session.execute(
        update(Reminder)
        .where(
            Reminder.state == ReminderState.SENT.value,
            exists().where(own),
            ~exists().where(own, OutboxMessage.status != OutboxStatus.EXPIRED.value),
        )
        .values(state=ReminderState.SKIPPED.value)
    )
    count = int(result.rowcount)  # type: ignore[attr-defined]
    if count:
        logger.info("%d reminders recorded as skipped: not delivered before the working day ended", count)
    return count
