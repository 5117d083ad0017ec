"""The Tim SPBE's coordination meeting (SOP step 5): scheduling, the invitees' answers, reminders, the actual times.

A campaign has at most one scheduled meeting at a time. Its organiser (the admin or Kasi who scheduled it) may
reschedule it (every answer is asked again), cancel it, and record when it really started and ended: those two
moments are the campaign events `meeting_started` and `meeting_ended` that time step 5 in the SOP timeline.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.enums import CampaignState, MeetingState, Role, Rsvp
from bot.errors import DomainError
from bot.services import audit, identity
from bot.services.audit import Acting
from bot.services.calendar import WorkingCalendar
from bot.services.timeline import sop_step
from storage.models import (
    Campaign,
    CampaignEvent,
    Meeting,
    MeetingInvitee,
    MeetingReminder,
    Opd,
    Person,
    RoleAssignment,
)

MEETING_STEP = 5
ORGANISERS = frozenset({Role.ADMIN, Role.KASI})
DEFAULT_PLACE = "Ruang Rapat Pontive Center"
DEFAULT_MINUTES = sop_step(MEETING_STEP).target  # the SOP's mutu baku: 180 minutes
# A meeting analyses what the OPDs sent: it may be planned while collection still runs, and held after the recap.
MEETING_CAMPAIGN_STATES = (CampaignState.OPEN, CampaignState.CLOSED, CampaignState.RECAPPED)
PLACE_MAX, AGENDA_MAX, REPRESENTATIVE_MAX = 200, 1000, 120
# Who else may be invited by their number: everyone but the Tim (invited as a whole) and the liaisons (by OPD).
OTHER_INVITEE_ROLES = (Role.ADMIN, Role.KASI, Role.KABID, Role.SEKRETARIAT, Role.KEPALA_OPD)
TIM_WORD = "TIM"


class ReminderKind:
    """The reminders of one meeting: the working day before, the hour before, the organiser's equipment check."""

    DAY = "hari"
    HOUR = "jam"
    EQUIPMENT = "peralatan"


@dataclass(frozen=True)
class MeetingCampaign:
    campaign_id: int
    title: str


@dataclass(frozen=True)
class InviteeView:
    person_id: int
    name: str
    rsvp: Rsvp | None
    representative: str | None
    answered_at: datetime | None
    active: bool = True  # still holds a role: a revoked invitee stays on the list but is told nothing more


@dataclass(frozen=True)
class MeetingView:
    id: int
    campaign_id: int
    campaign_title: str
    starts_at: datetime
    duration_minutes: int
    place: str
    agenda: str
    organiser_id: int
    organiser: str
    state: MeetingState
    actual_start: datetime | None
    actual_end: datetime | None
    invitees: tuple[InviteeView, ...]

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.duration_minutes)

    @property
    def accepted(self) -> int:
        return sum(1 for i in self.invitees if i.rsvp is Rsvp.HADIR)

    @property
    def declined(self) -> int:
        return sum(1 for i in self.invitees if i.rsvp is Rsvp.TIDAK_HADIR)

    @property
    def represented(self) -> int:
        return sum(1 for i in self.invitees if i.rsvp is Rsvp.DIWAKILKAN)

    @property
    def unanswered(self) -> int:
        return sum(1 for i in self.invitees if i.rsvp is None)

    def invitee(self, person_id: int) -> InviteeView | None:
        return next((i for i in self.invitees if i.person_id == person_id), None)


@dataclass(frozen=True)
class PersonChoice:
    """Someone who may be invited by their number (`#ID`), as the invitee question lists them."""

    person_id: int
    name: str
    role: Role
    opd_code: str | None


def organising_role(held: Collection[Role]) -> Role | None:
    """The role a meeting is organised in (admin, then Kasi); None for anyone else."""
    return next((r for r in (Role.ADMIN, Role.KASI) if r in held), None)


def _require_organiser_role(acting: Acting) -> int:
    if acting.person_id is None or acting.role is None or Role(acting.role) not in ORGANISERS:
        raise DomainError("rapat/tidak_berwenang")
    return acting.person_id


def require_future(starts_at: datetime, now: datetime) -> None:
    """A meeting in the past (or starting now) is refused."""
    if starts_at <= now:
        raise DomainError("rapat/sudah_lewat", waktu=starts_at)


def require_new_start(view: MeetingView, starts_at: datetime, now: datetime) -> None:
    """A reschedule needs a time in the future that differs from the current one."""
    require_future(starts_at, now)
    if starts_at == view.starts_at:
        raise DomainError("rapat/jadwal_sama", waktu=starts_at)


def require_viewer(held: Collection[Role], data: str) -> None:
    """The meeting's read-only buttons (`rpt:`) are for the roles that organise meetings; anyone else forged one."""
    if not ORGANISERS.intersection(held):
        raise DomainError("umum/tombol_bukan_untuk_anda", audit_action="forged_button", data=data[:64])


async def schedulable_campaigns(session: AsyncSession) -> list[MeetingCampaign]:
    """The campaigns a meeting may be scheduled for, newest first."""
    rows = await session.execute(
        select(Campaign.id, Campaign.title)
        .where(Campaign.state.in_([s.value for s in MEETING_CAMPAIGN_STATES]))
        .order_by(Campaign.id.desc())
    )
    return [MeetingCampaign(campaign_id, title) for campaign_id, title in rows.all()]


async def require_schedulable(session: AsyncSession, campaign_id: int) -> MeetingCampaign:
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise DomainError("kampanye/tidak_dikenal", id=campaign_id)
    if CampaignState(campaign.state) not in MEETING_CAMPAIGN_STATES:
        raise DomainError("rapat/kegiatan_belum_siap", id=campaign_id, judul=campaign.title)
    return MeetingCampaign(campaign.id, campaign.title)


async def latest_meeting(session: AsyncSession, campaign_id: int) -> MeetingView | None:
    """The campaign's most recent meeting, whatever its state."""
    meeting_id = await session.scalar(
        select(Meeting.id).where(Meeting.campaign_id == campaign_id).order_by(Meeting.id.desc()).limit(1)
    )
    return await meeting_view(session, meeting_id) if meeting_id is not None else None


async def meeting_view(session: AsyncSession, meeting_id: int) -> MeetingView:
    """One meeting with its invitees (by name) and their answers, in two queries."""
    row = (
        await session.execute(
            select(Meeting, Campaign.title, Person.display_name, Person.purged_at)
            .join(Campaign, Campaign.id == Meeting.campaign_id)
            .join(Person, Person.id == Meeting.organiser_person_id)
            .where(Meeting.id == meeting_id)
        )
    ).one_or_none()
    if row is None:
        raise DomainError("rapat/tidak_dikenal")
    meeting, title, organiser_name, organiser_purged = row
    holds_a_role = (
        select(RoleAssignment.id)
        .where(RoleAssignment.person_id == MeetingInvitee.person_id, RoleAssignment.revoked_at.is_(None))
        .exists()
    )
    invitees = (
        await session.execute(
            select(MeetingInvitee, Person.display_name, Person.purged_at, holds_a_role)
            .join(Person, Person.id == MeetingInvitee.person_id)
            .where(MeetingInvitee.meeting_id == meeting_id)
            .order_by(Person.display_name, Person.id)
        )
    ).all()
    return MeetingView(
        id=meeting.id,
        campaign_id=meeting.campaign_id,
        campaign_title=title,
        starts_at=meeting.starts_at,
        duration_minutes=meeting.duration_minutes,
        place=meeting.place,
        agenda=meeting.agenda,
        organiser_id=meeting.organiser_person_id,
        organiser=audit.actor_label(meeting.organiser_person_id, organiser_name, organiser_purged is not None),
        state=MeetingState(meeting.state),
        actual_start=meeting.actual_start,
        actual_end=meeting.actual_end,
        invitees=tuple(
            InviteeView(
                invitee.person_id,
                audit.actor_label(invitee.person_id, name, purged is not None),
                Rsvp(invitee.rsvp) if invitee.rsvp else None,
                invitee.representative,
                invitee.answered_at,
                bool(active),
            )
            for invitee, name, purged, active in invitees
        ),
    )


async def invitee_candidates(session: AsyncSession) -> list[PersonChoice]:
    """The people who may be invited by number: Diskominfo staff and the Kepala OPD (not the Tim, not liaisons)."""
    rows = await session.execute(
        select(Person.id, Person.display_name, RoleAssignment.role, Opd.code)
        .join(RoleAssignment, RoleAssignment.person_id == Person.id)
        .outerjoin(Opd, Opd.id == RoleAssignment.opd_id)
        .where(
            RoleAssignment.role.in_([r.value for r in OTHER_INVITEE_ROLES]),
            RoleAssignment.revoked_at.is_(None),
            Person.purged_at.is_(None),
            ~identity.is_local_operator(Person.id),
        )
        .order_by(Person.id, RoleAssignment.id)
    )
    return [
        PersonChoice(person_id, name or f"pengguna-{person_id}", Role(role), code)
        for person_id, name, role, code in rows
    ]


async def resolve_invitees(session: AsyncSession, words: Sequence[str]) -> tuple[int, ...]:
    """`tim` (every Tim SPBE member), OPD codes (their liaisons) and `#ID` numbers (anyone registered) → people.

    Refused, naming them: words that are none of these, an OPD without a liaison, a number nobody active holds.
    """
    chosen: set[int] = set()
    unknown: list[str] = []
    for word in dict.fromkeys(w.strip().upper() for w in words if w.strip()):
        if word == TIM_WORD:
            chosen.update(await _active_holders(session, [Role.TIM]))
            continue
        number = word.removeprefix("#")
        if number.isascii() and number.isdigit() and len(number) <= 9:
            person_id = await session.scalar(
                select(RoleAssignment.person_id).where(
                    RoleAssignment.person_id == int(number),
                    RoleAssignment.revoked_at.is_(None),
                    ~identity.is_local_operator(RoleAssignment.person_id),
                )
            )
            if person_id is None:
                unknown.append(word)
            else:
                chosen.add(person_id)
            continue
        liaisons = (
            await session.scalars(
                select(RoleAssignment.person_id)
                .join(Opd, Opd.id == RoleAssignment.opd_id)
                .where(Opd.code == word[:32], identity.counts_as_liaison())
            )
        ).all()
        if liaisons:
            chosen.update(liaisons)
        else:
            unknown.append(word[:32])
    if unknown:
        raise DomainError("rapat/undangan_tidak_dikenal", kata=unknown)
    if not chosen:
        raise DomainError("rapat/undangan_kosong")
    return tuple(sorted(chosen))


async def _active_holders(session: AsyncSession, roles: Iterable[Role]) -> list[int]:
    rows = await session.scalars(
        select(RoleAssignment.person_id)
        .where(
            RoleAssignment.role.in_([r.value for r in roles]),
            RoleAssignment.revoked_at.is_(None),
            ~identity.is_local_operator(RoleAssignment.person_id),
        )
        .distinct()
    )
    return list(rows.all())


async def invitee_names(session: AsyncSession, person_ids: Sequence[int]) -> list[str]:
    """The invitees' names, for the confirmation before the invitations go out."""
    rows = await session.execute(
        select(Person.id, Person.display_name, Person.purged_at)
        .where(Person.id.in_(list(person_ids)))
        .order_by(Person.display_name, Person.id)
    )
    return [audit.actor_label(pid, name, purged is not None) for pid, name, purged in rows]


def clean_place(text: str) -> str:
    place = " ".join(text.split())
    if not 3 <= len(place) <= PLACE_MAX:
        raise DomainError("rapat/tempat_tidak_sah", maksimum=PLACE_MAX)
    return place


def clean_agenda(text: str) -> str:
    agenda = text.strip()
    if not 3 <= len(agenda) <= AGENDA_MAX:
        raise DomainError("rapat/agenda_tidak_sah", maksimum=AGENDA_MAX)
    return agenda


async def schedule(
    session: AsyncSession,
    campaign_id: int,
    *,
    starts_at: datetime,
    place: str,
    agenda: str,
    invitees: Sequence[int],
    acting: Acting,
    now: datetime,
    duration_minutes: int = DEFAULT_MINUTES,
) -> MeetingView:
    """Record the meeting and its invitees (the caller queues the invitations); audited."""
    organiser = _require_organiser_role(acting)
    await require_schedulable(session, campaign_id)
    require_future(starts_at, now)
    if not invitees:
        raise DomainError("rapat/undangan_kosong")
    pending = await session.scalar(
        select(Meeting.id).where(Meeting.campaign_id == campaign_id, Meeting.state == MeetingState.SCHEDULED.value)
    )
    if pending is not None:
        raise DomainError("rapat/sudah_terjadwal", id=campaign_id)
    meeting = Meeting(
        campaign_id=campaign_id,
        starts_at=starts_at,
        duration_minutes=duration_minutes,
        place=clean_place(place),
        agenda=clean_agenda(agenda),
        organiser_person_id=organiser,
        state=MeetingState.SCHEDULED.value,
        invited_at=now,
        created_at=now,
    )
    session.add(meeting)
    await session.flush()
    session.add_all(MeetingInvitee(meeting_id=meeting.id, person_id=p) for p in sorted(set(invitees)))
    await audit.record(
        session,
        acting,
        "meeting_scheduled",
        now,
        object_type="meeting",
        object_id=meeting.id,
        campaign=campaign_id,
        starts_at=starts_at.isoformat(),
        place=meeting.place,
        invitees=sorted(set(invitees)),
    )
    await session.flush()
    return await meeting_view(session, meeting.id)


async def _load_for_change(session: AsyncSession, meeting_id: int) -> Meeting:
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        raise DomainError("rapat/tidak_dikenal")
    if meeting.state == MeetingState.CANCELLED.value:
        raise DomainError("rapat/dibatalkan", waktu=meeting.starts_at)
    if meeting.state == MeetingState.HELD.value:
        raise DomainError("rapat/sudah_terlaksana", waktu=meeting.starts_at)
    return meeting


async def require_organiser(session: AsyncSession, meeting_id: int, *, acting: Acting) -> MeetingView:
    """The meeting, if `acting` organises it and it is still scheduled (before a reschedule, cancel or record)."""
    await _organised(session, meeting_id, acting)
    return await meeting_view(session, meeting_id)


async def _organised(session: AsyncSession, meeting_id: int, acting: Acting) -> Meeting:
    organiser = _require_organiser_role(acting)
    meeting = await _load_for_change(session, meeting_id)
    if meeting.organiser_person_id != organiser:
        raise DomainError("rapat/bukan_penyelenggara", audit_action="meeting_refused", meeting=meeting_id)
    return meeting


async def _move(session: AsyncSession, meeting: Meeting, new: MeetingState, **values: object) -> None:
    """Compare-and-set from `scheduled`: of two concurrent changes the second gets "sudah diproses"."""
    moved = await session.execute(
        update(Meeting)
        .where(
            Meeting.id == meeting.id,
            Meeting.state == MeetingState.SCHEDULED.value,
            Meeting.starts_at == meeting.starts_at,
        )
        .values(state=new.value, **values)
    )
    if not moved.rowcount:  # type: ignore[attr-defined]
        raise DomainError("umum/sudah_diproses")


async def answer(
    session: AsyncSession,
    meeting_id: int,
    starts_at: datetime,
    rsvp: Rsvp,
    *,
    acting: Acting,
    now: datetime,
) -> MeetingView:
    """An invitee's answer to the invitation for the meeting at `starts_at` (a rescheduled one asks again)."""
    person_id = acting.person_id
    meeting = await _load_for_change(session, meeting_id)
    if meeting.starts_at != starts_at:
        raise DomainError("rapat/jadwal_berganti", waktu=meeting.starts_at)
    invitee = await session.get(MeetingInvitee, (meeting_id, person_id)) if person_id is not None else None
    if invitee is None:
        raise DomainError("rapat/bukan_undangan", audit_action="meeting_refused", meeting=meeting_id)
    invitee.rsvp, invitee.answered_at = rsvp.value, now
    if rsvp is not Rsvp.DIWAKILKAN:
        invitee.representative = None
    await audit.record(
        session, acting, "meeting_rsvp", now, object_type="meeting", object_id=meeting_id, rsvp=rsvp.value
    )
    await session.flush()
    return await meeting_view(session, meeting_id)


async def name_representative(
    session: AsyncSession, meeting_id: int, name: str, *, acting: Acting, now: datetime
) -> MeetingView:
    """Who comes in the invitee's place (after "Diwakilkan")."""
    cleaned = " ".join(name.split())
    if not 2 <= len(cleaned) <= REPRESENTATIVE_MAX:
        raise DomainError("rapat/wakil_tidak_sah", maksimum=REPRESENTATIVE_MAX)
    await _load_for_change(session, meeting_id)
    invitee = (
        await session.get(MeetingInvitee, (meeting_id, acting.person_id)) if acting.person_id is not None else None
    )
    if invitee is None or invitee.rsvp != Rsvp.DIWAKILKAN.value:
        raise DomainError("umum/tombol_kedaluwarsa")
    invitee.representative, invitee.answered_at = cleaned, now
    await audit.record(
        session, acting, "meeting_representative", now, object_type="meeting", object_id=meeting_id, name=cleaned
    )
    await session.flush()
    return await meeting_view(session, meeting_id)


async def reschedule(
    session: AsyncSession, meeting_id: int, starts_at: datetime, *, acting: Acting, now: datetime
) -> MeetingView:
    """A new time: every invitee is asked again (the caller tells them all); audited with the old time."""
    meeting = await _organised(session, meeting_id, acting)
    require_future(starts_at, now)
    if starts_at == meeting.starts_at:
        raise DomainError("rapat/jadwal_sama", waktu=starts_at)
    previous = meeting.starts_at
    moved = await session.execute(
        update(Meeting)
        .where(Meeting.id == meeting_id, Meeting.state == MeetingState.SCHEDULED.value, Meeting.starts_at == previous)
        .values(starts_at=starts_at, invited_at=now)
    )
    if not moved.rowcount:  # type: ignore[attr-defined]
        raise DomainError("umum/sudah_diproses")
    await session.execute(
        update(MeetingInvitee)
        .where(MeetingInvitee.meeting_id == meeting_id)
        .values(rsvp=None, representative=None, answered_at=None)
    )
    await audit.record(
        session,
        acting,
        "meeting_rescheduled",
        now,
        object_type="meeting",
        object_id=meeting_id,
        starts_at=starts_at.isoformat(),
        previous=previous.isoformat(),
    )
    session.expire_all()
    return await meeting_view(session, meeting_id)


async def cancel(session: AsyncSession, meeting_id: int, *, acting: Acting, now: datetime) -> MeetingView:
    """The meeting will not take place (the caller tells every invitee); audited."""
    meeting = await _organised(session, meeting_id, acting)
    await _move(session, meeting, MeetingState.CANCELLED)
    await audit.record(session, acting, "meeting_cancelled", now, object_type="meeting", object_id=meeting_id)
    session.expire_all()
    return await meeting_view(session, meeting_id)


async def record_held(
    session: AsyncSession,
    meeting_id: int,
    *,
    acting: Acting,
    now: datetime,
    started: datetime | None = None,
    ended: datetime | None = None,
) -> MeetingView:
    """When the meeting really started and ended (default: as scheduled); they time SOP step 5. Audited."""
    meeting = await _organised(session, meeting_id, acting)
    started = started or meeting.starts_at
    ended = ended or started + timedelta(minutes=meeting.duration_minutes)
    if ended <= started:
        raise DomainError("rapat/waktu_terbalik", mulai=started, selesai=ended)
    if ended > now:
        raise DomainError("rapat/belum_selesai", selesai=ended)
    await _move(session, meeting, MeetingState.HELD, actual_start=started, actual_end=ended)
    for kind, at in (("meeting_started", started), ("meeting_ended", ended)):
        session.add(
            CampaignEvent(
                campaign_id=meeting.campaign_id, kind=kind, at=at, actor_person_id=acting.person_id, note=None
            )
        )
    await audit.record(
        session,
        acting,
        "meeting_held",
        now,
        object_type="meeting",
        object_id=meeting_id,
        campaign=meeting.campaign_id,
        started=started.isoformat(),
        ended=ended.isoformat(),
    )
    session.expire_all()
    return await meeting_view(session, meeting_id)


# -- reminders ---------------------------------------------------------------------------------------------------


def reminder_moments(starts_at: datetime, calendar: WorkingCalendar) -> dict[str, datetime]:
    """When each reminder is due: the opening of the working day before the meeting's day, and an hour before."""
    day = starts_at.astimezone(calendar.zone).date() - timedelta(days=1)
    for _ in range(60):  # a holiday season is never two months long
        if calendar.is_working_day(day):
            break
        day -= timedelta(days=1)
    day_before = datetime.combine(day, calendar.workday_start, tzinfo=calendar.zone)
    return {ReminderKind.DAY: day_before, ReminderKind.HOUR: starts_at - timedelta(hours=1)}


def due_kinds(starts_at: datetime, invited_at: datetime, now: datetime, calendar: WorkingCalendar) -> list[str]:
    """The reminders due at `now`: their moment has come, the meeting has not, and the invitation came before it.

    An invitation sent after a reminder's moment (a meeting scheduled for tomorrow afternoon) makes it redundant:
    the invitation itself was the reminder. The hour reminder supersedes a day reminder not sent in time.
    """
    if now >= starts_at:
        return []
    moments = reminder_moments(starts_at, calendar)
    due = [kind for kind, moment in moments.items() if invited_at < moment <= now]
    return [ReminderKind.HOUR] if ReminderKind.HOUR in due else due


@dataclass(frozen=True)
class DueReminder:
    meeting: MeetingView
    kind: str  # ReminderKind
    person_id: int


REMINDER_HORIZON = timedelta(days=60)


async def reminders_may_be_due(session: AsyncSession, now: datetime) -> bool:
    """Whether any meeting is scheduled ahead at all: the job asks this, read-only, before it takes the write lock."""
    upcoming = await session.scalar(
        select(Meeting.id)
        .where(
            Meeting.state == MeetingState.SCHEDULED.value,
            Meeting.starts_at > now,
            Meeting.starts_at <= now + REMINDER_HORIZON,
        )
        .limit(1)
    )
    return upcoming is not None


async def take_due_reminders(session: AsyncSession, calendar: WorkingCalendar, now: datetime) -> list[DueReminder]:
    """The reminders due at `now`, each recorded as sent (once per meeting, person, kind and start time).

    The invitees who accepted, sent a representative or have not answered are reminded (not those who
    declined); with the day reminder the organiser is asked to check the room's equipment.
    """
    upcoming = (
        await session.scalars(
            select(Meeting).where(
                Meeting.state == MeetingState.SCHEDULED.value,
                Meeting.starts_at > now,
                Meeting.starts_at <= now + REMINDER_HORIZON,
            )
        )
    ).all()
    due: list[DueReminder] = []
    for meeting in upcoming:
        kinds = due_kinds(meeting.starts_at, meeting.invited_at, now, calendar)
        if not kinds:
            continue
        view = await meeting_view(session, meeting.id)
        rows = await session.execute(
            select(MeetingReminder.person_id, MeetingReminder.kind).where(
                MeetingReminder.meeting_id == meeting.id, MeetingReminder.starts_at == meeting.starts_at
            )
        )
        sent = {(person_id, kind) for person_id, kind in rows}
        reminded = [i for i in view.invitees if i.active and i.rsvp is not Rsvp.TIDAK_HADIR]
        wanted = [(i.person_id, kind) for kind in kinds for i in reminded]
        if ReminderKind.DAY in kinds:
            wanted.append((view.organiser_id, ReminderKind.EQUIPMENT))
        for person_id, kind in wanted:
            if (person_id, kind) in sent:
                continue
            session.add(
                MeetingReminder(
                    meeting_id=meeting.id, person_id=person_id, kind=kind, starts_at=meeting.starts_at, sent_at=now
                )
            )
            due.append(DueReminder(view, kind, person_id))
    if due:
        await session.flush()  # the unique constraint refuses a second instance's copy here, before anything is queued
    return due
