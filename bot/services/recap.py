"""The recap of a campaign (SOP step 4): where the OPDs stand, what changed, what waits, and acting on it.

`campaign_recap` reads it in a fixed number of statements whatever the number of OPDs: the campaign-wide progress
query (`overview.campaign_overview`), then one statement each for the review queue, the OPDs without a reachable
liaison, the evidence findings, the campaign's events, the calendar overrides and the previous daily recap
(tests/test_recap.py counts them at 3 and at 30 OPDs). The daily recap claims one `recap` row per (campaign,
working day) with the figures it showed: the claim makes it go out once whatever restarts happen, and the next
recap compares against it ("sejak rekap sebelumnya").
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from sqlalchemy import distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.enums import CampaignState, Role
from bot.errors import DomainError
from bot.services import access, audit, campaigns, overview, people, review
from bot.services.audit import Acting
from bot.services.calendar import WorkingCalendar, load_calendar
from bot.services.campaigns import EventView
from bot.services.identity import counts_as_liaison
from bot.services.overview import OpdStanding
from bot.services.submissions import COLLECTING
from bot.services.timeline import step_progress
from bot.settings import Settings
from storage.database import dialect_insert
from storage.models import (
    CampaignEvent,
    CampaignOpd,
    ChannelIdentity,
    EvidenceFinding,
    Opd,
    Recap,
    RoleAssignment,
    SubmissionVersion,
)

# Who reads the recap on demand (`/rekap`), who receives the daily one, who forwards it to the Tim SPBE.
READERS = frozenset({Role.ADMIN, Role.KASI, Role.KABID})
DAILY_RECIPIENTS = (Role.KASI, Role.KABID)
FORWARDERS = frozenset({Role.KASI, Role.KABID})
# The recap covers campaigns that collect (open) and those closed for collection but not yet forwarded.
RECAPPED_STATES = tuple(CampaignState(s) for s in COLLECTING)
TOP = 10  # OPDs listed by name in a message read on a phone; the rest are counted


@dataclass(frozen=True)
class RecapLine:
    """One OPD behind: its figures as the message shows them (plain values, so the outbox can keep them)."""

    opd_code: str
    short_name: str
    required: int
    missing: int
    complete_percent: int
    verified_percent: int
    last_upload: datetime | None
    late: bool


@dataclass(frozen=True)
class Changes:
    """Since the previous daily recap: items sent and accepted in between, OPDs that moved or became complete."""

    since: datetime
    complete: int  # change in required items sent or accepted (kelengkapan)
    verified: int  # change in required items accepted (terverifikasi)
    progressed: int  # OPDs with more items sent or accepted than then
    completed: int  # OPDs complete now that were not then


@dataclass(frozen=True)
class StepLine:
    """One SOP step that has started, against its target (mutu baku), in working minutes."""

    step: int
    actor_role: str
    working_minutes: int | None
    target_minutes: int
    ended: bool
    over_target: bool


@dataclass(frozen=True)
class ChartRow:
    opd_code: str
    complete_percent: int
    verified_percent: int


@dataclass(frozen=True)
class CampaignRecap:
    """The recap of one campaign at `at` (the message shows `behind`; the chart reads `chart`)."""

    campaign_id: int
    title: str
    state: CampaignState
    deadline: datetime
    at: datetime
    opds: int
    required: int
    complete: int
    verified: int
    complete_opds: int
    verified_opds: int
    behind: tuple[RecapLine, ...]  # the TOP furthest behind among those not complete
    behind_more: int  # how many more are not complete
    changes: Changes | None
    awaiting_review: int
    overdue: tuple[str, ...]  # OPD codes past their effective deadline with items missing
    unreachable: tuple[str, ...]  # OPD codes with no liaison the bot can reach
    findings: int  # latest versions with a finding of the automatic check
    steps: tuple[StepLine, ...]
    minutes_per_day: int
    chart: tuple[ChartRow, ...] = field(default=(), repr=False)  # every OPD, furthest behind first
    snapshot: dict[str, list[int]] = field(default_factory=dict, repr=False)

    @property
    def complete_percent(self) -> int:
        return _percent(self.complete, self.required)

    @property
    def verified_percent(self) -> int:
        return _percent(self.verified, self.required)

    def for_message(self) -> CampaignRecap:
        """The recap without its per-OPD lists: what an outbox row keeps (500 OPDs need not wait in every row)."""
        return replace(self, chart=(), snapshot={})


@dataclass(frozen=True)
class Forwarded:
    campaign_id: int
    title: str
    tim: tuple[int, ...]  # the Tim SPBE's people the recap goes to
    recapped: bool  # the campaign moved from closed to recapped


def _percent(count: int, of: int) -> int:
    return round(100 * count / of) if of else 100


def reading_role(held: frozenset[Role] | set[Role]) -> Role | None:
    """The role a recap reader acts in (the audit log's), None for anyone else."""
    roles = held & READERS
    return min(roles) if roles else None


def forwarding_role(held: frozenset[Role] | set[Role]) -> Role | None:
    """The role a forward to the Tim SPBE is audited in (Kasi, then Kabid); None for anyone else."""
    return next((r for r in (Role.KASI, Role.KABID) if r in held), None)


def require_exporter(held: frozenset[Role] | set[Role]) -> None:
    """The recap's workbook button: the roles of `/ekspor` (admin, Kasi, Kabid), re-checked at the press."""
    if not held & access.EXPORTERS:
        raise DomainError("umum/tombol_bukan_untuk_anda", audit_action="forged_button")


def require_reader(held: frozenset[Role] | set[Role]) -> Role:
    role = reading_role(held)
    if role is None:
        raise DomainError("rekap/tidak_berwenang")
    return role


async def recap_campaigns(session: AsyncSession) -> list[overview.CampaignChoice]:
    """The campaigns a recap is about now (open, or closed and not yet forwarded), newest first."""
    return await overview.collecting_campaigns(session)


async def campaign_recap(
    session: AsyncSession, settings: Settings, campaign_id: int, now: datetime, *, top: int = TOP
) -> CampaignRecap:
    """The recap of `campaign_id` at `now`, compared with the latest daily recap of an earlier day."""
    view = await overview.campaign_overview(session, campaign_id)
    if view.state not in RECAPPED_STATES:
        raise DomainError("rekap/bukan_pengumpulan", id=campaign_id)
    standings = view.standings
    today = now.astimezone(settings.timezone).date()
    previous = await _previous(session, campaign_id, today)
    events = await _events(session, campaign_id)
    first_year = events[0].at.astimezone(settings.timezone).year if events else today.year
    calendar = await load_calendar(session, settings, range(first_year, today.year + 1))
    behind = [s for s in standings if s.complete < s.required]
    return CampaignRecap(
        campaign_id=view.campaign_id,
        title=view.title,
        state=view.state,
        deadline=view.deadline,
        at=now,
        opds=len(standings),
        required=sum(s.required for s in standings),
        complete=sum(s.complete for s in standings),
        verified=sum(s.verified for s in standings),
        complete_opds=sum(1 for s in standings if s.complete >= s.required),
        verified_opds=sum(1 for s in standings if s.verified >= s.required),
        behind=tuple(_line(s, now) for s in behind[:top]),
        behind_more=max(0, len(behind) - top),
        changes=_changes(previous, standings),
        awaiting_review=await review.waiting_count(session, campaign_id),
        overdue=tuple(sorted(s.opd_code for s in standings if s.late(now))),
        unreachable=await _unreachable(session, campaign_id),
        findings=await _findings(session, campaign_id),
        steps=_steps(events, calendar, now),
        minutes_per_day=calendar.minutes_per_day,
        chart=tuple(ChartRow(s.opd_code, s.percent(s.complete), s.percent(s.verified)) for s in standings),
        snapshot={s.opd_code: [s.complete, s.verified] for s in standings},
    )


def is_due(calendar: WorkingCalendar, settings: Settings, now: datetime) -> bool:
    """The daily recap is due from MONEV_RECAP_TIME until the day ends, on working days only."""
    if settings.recap_time is None:
        return False
    local = now.astimezone(settings.timezone)
    return calendar.is_working_day(local.date()) and local.time() >= settings.recap_time


async def claim_daily(session: AsyncSession, recap: CampaignRecap, day: date, now: datetime) -> bool:
    """Record today's recap of the campaign; False when it is recorded already (sent before a restart)."""
    insert = dialect_insert(session)
    claimed = await session.scalar(
        insert(Recap)
        .values(
            campaign_id=recap.campaign_id,
            day=day,
            sent_at=now,
            required=recap.required,
            complete=recap.complete,
            verified=recap.verified,
            snapshot=json.dumps(recap.snapshot, sort_keys=True),
        )
        .on_conflict_do_nothing(index_elements=["campaign_id", "day"])
        .returning(Recap.id)
    )
    return claimed is not None


async def daily_claimed(session: AsyncSession, campaign_ids: Sequence[int], day: date) -> set[int]:
    """Which of the campaigns have today's recap recorded (one statement, before building anything)."""
    if not campaign_ids:
        return set()
    rows = await session.scalars(select(Recap.campaign_id).where(Recap.campaign_id.in_(campaign_ids), Recap.day == day))
    return set(rows.all())


@dataclass(frozen=True)
class Recipient:
    person_id: int
    roles: frozenset[Role]  # every active role, so the recap's buttons are those this person may press


async def daily_recipients(session: AsyncSession) -> list[Recipient]:
    """Every Kasi and Kabid, once each, with their roles (two statements)."""
    ids = await people.people_with_roles(session, DAILY_RECIPIENTS)
    if not ids:
        return []
    held: dict[int, set[Role]] = {}
    rows = await session.execute(
        select(RoleAssignment.person_id, RoleAssignment.role).where(
            RoleAssignment.person_id.in_(ids), RoleAssignment.revoked_at.is_(None)
        )
    )
    for person_id, role in rows.all():
        held.setdefault(person_id, set()).add(Role(role))
    return [Recipient(person_id, frozenset(held.get(person_id, ()))) for person_id in ids]


async def forward_to_tim(session: AsyncSession, campaign_id: int, *, acting: Acting, now: datetime) -> Forwarded:
    """The Kasi or Kabid forwards the recap to every Tim SPBE person; a closed campaign becomes `recapped`."""
    if acting.role is None or Role(acting.role) not in FORWARDERS:
        raise DomainError("rekap/tidak_berwenang_teruskan")
    detail = await campaigns.campaign_detail(session, campaign_id)
    if detail.state not in RECAPPED_STATES:
        raise DomainError("umum/sudah_diproses")
    tim = tuple(await people.people_with_roles(session, (Role.TIM,)))
    if not tim:
        raise DomainError("rekap/tanpa_tim")
    recapped = detail.state == CampaignState.CLOSED
    if recapped:
        await campaigns.mark_recapped(session, campaign_id, acting=acting, now=now)
    await audit.record(
        session, acting, "recap_forwarded", now, object_type="campaign", object_id=campaign_id, tim=len(tim)
    )
    return Forwarded(campaign_id, detail.summary.title, tim, recapped)


def _line(standing: OpdStanding, now: datetime) -> RecapLine:
    return RecapLine(
        standing.opd_code,
        standing.short_name,
        standing.required,
        standing.required - standing.complete,
        standing.percent(standing.complete),
        standing.percent(standing.verified),
        standing.last_upload,
        standing.late(now),
    )


def _changes(previous: Recap | None, standings: Sequence[OpdStanding]) -> Changes | None:
    if previous is None:
        return None
    then: dict[str, list[int]] = json.loads(previous.snapshot)
    progressed = completed = 0
    for s in standings:
        before_complete, _ = then.get(s.opd_code, [0, 0])
        progressed += s.complete > before_complete
        completed += s.complete >= s.required > before_complete
    return Changes(
        previous.sent_at,
        sum(s.complete for s in standings) - previous.complete,
        sum(s.verified for s in standings) - previous.verified,
        progressed,
        completed,
    )


def _steps(events: Sequence[EventView], calendar: WorkingCalendar, now: datetime) -> tuple[StepLine, ...]:
    return tuple(
        StepLine(
            p.step.step,
            p.step.actor_role,
            p.working_minutes,
            p.target_minutes,
            p.ended is not None,
            p.over_target,
        )
        for p in step_progress(events, calendar, now)
        if p.started is not None
    )


async def _previous(session: AsyncSession, campaign_id: int, today: date) -> Recap | None:
    return await session.scalar(
        select(Recap).where(Recap.campaign_id == campaign_id, Recap.day < today).order_by(Recap.day.desc()).limit(1)
    )


async def _events(session: AsyncSession, campaign_id: int) -> list[EventView]:
    rows = await session.execute(
        select(CampaignEvent.kind, CampaignEvent.at)
        .where(CampaignEvent.campaign_id == campaign_id)
        .order_by(CampaignEvent.at, CampaignEvent.id)
    )
    return [EventView(kind, at, "", None) for kind, at in rows.all()]


async def _unreachable(session: AsyncSession, campaign_id: int) -> tuple[str, ...]:
    """OPDs of the campaign none of whose active liaisons has an account the bot can write to."""
    reachable = (
        select(RoleAssignment.opd_id)
        .join(ChannelIdentity, ChannelIdentity.person_id == RoleAssignment.person_id)
        .where(counts_as_liaison(), ChannelIdentity.unreachable_at.is_(None), RoleAssignment.opd_id.is_not(None))
    )
    rows = await session.scalars(
        select(Opd.code)
        .join(CampaignOpd, CampaignOpd.opd_id == Opd.id)
        .where(CampaignOpd.campaign_id == campaign_id, Opd.id.not_in(reachable))
        .order_by(Opd.code)
    )
    return tuple(rows.all())


async def _findings(session: AsyncSession, campaign_id: int) -> int:
    """Latest versions (not superseded) with at least one finding of the automatic check."""
    count = await session.scalar(
        select(func.count(distinct(EvidenceFinding.version_id)))
        .join(SubmissionVersion, SubmissionVersion.id == EvidenceFinding.version_id)
        .where(SubmissionVersion.campaign_id == campaign_id, SubmissionVersion.superseded_by_number.is_(None))
    )
    return int(count or 0)
