"""Everything an export shows, read in a fixed number of statements into frozen views."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.conversation.templating import person_in_words
from bot.domain.enums import CampaignState, ReviewDecision, ReviewState
from bot.errors import DomainError
from bot.services import audit
from bot.services.calendar import WorkingCalendar, load_calendar
from bot.services.campaigns import EventView
from bot.services.identity import counts_as_liaison
from bot.services.overview import OpdStanding, behind_first
from bot.services.timeline import StepProgress, step_progress
from bot.settings import Settings
from storage.models import (
    Campaign,
    CampaignEvent,
    CampaignItem,
    CampaignOpd,
    EvidenceFinding,
    ItemAssignment,
    Opd,
    Person,
    RoleAssignment,
    SubmissionFile,
    SubmissionReview,
    SubmissionVersion,
)

# The mark of an OPD's item in the matrix: no version yet, or the state of its latest version.
BELUM, TERKIRIM, REVISI, DITERIMA = "belum", "terkirim", "perlu_revisi", "diterima"
_MARKS = {
    ReviewState.SUBMITTED.value: TERKIRIM,
    ReviewState.ACCEPTED.value: DITERIMA,
    ReviewState.REVISION_REQUESTED.value: REVISI,
}


@dataclass(frozen=True)
class ExportItem:
    id: int
    code: str
    title: str
    required: bool


@dataclass(frozen=True)
class ExportFile:
    """One file of one version, with what the version says about who sent it and how it was reviewed."""

    position: int
    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class ExportVersion:
    opd_id: int
    item_id: int
    number: int
    created_at: datetime
    uploader: str
    on_behalf: bool
    review_state: str  # ReviewState value
    superseded_by: int | None
    reviewer: str | None
    note: str | None
    accepted_at: datetime | None  # the latest "accepted" review of this version
    files: tuple[ExportFile, ...]
    findings: int  # what the automatic check found in this version's files (never a verdict)


@dataclass(frozen=True)
class ExportOpd:
    id: int
    code: str
    name: str
    short_name: str
    liaisons: tuple[str, ...]
    standing: OpdStanding
    submitted: int  # required items whose latest version waits for review
    revision: int  # required items whose latest version was returned for revision
    findings: int  # the automatic check's findings on the latest versions of the OPD's items

    @property
    def missing(self) -> int:
        return self.standing.required - self.standing.complete


@dataclass(frozen=True)
class ExportData:
    campaign_id: int
    title: str
    state: CampaignState
    deadline: datetime
    now: datetime
    opds: tuple[ExportOpd, ...]  # furthest behind first, as /status orders them
    items: tuple[ExportItem, ...]  # in the campaign's order
    assigned: frozenset[tuple[int, int]]  # (opd id, item id)
    versions: tuple[ExportVersion, ...]  # by OPD, item, number
    steps: tuple[StepProgress, ...]
    minutes_per_day: int

    def latest(self) -> dict[tuple[int, int], ExportVersion]:
        """The latest version of each (OPD, item)."""
        return {(v.opd_id, v.item_id): v for v in self.versions}  # sorted by number: the last one wins

    def mark(self, opd_id: int, item_id: int, latest: dict[tuple[int, int], ExportVersion]) -> str | None:
        """The matrix mark of one OPD's item; None where the item is not asked of that OPD."""
        if (opd_id, item_id) not in self.assigned:
            return None
        version = latest.get((opd_id, item_id))
        return BELUM if version is None else _MARKS[version.review_state]

    def accepted(self) -> list[ExportVersion]:
        """The latest accepted version of every (OPD, item) that has one: what the evidence package holds."""
        chosen: dict[tuple[int, int], ExportVersion] = {}
        for v in self.versions:
            if v.review_state == ReviewState.ACCEPTED.value:
                chosen[(v.opd_id, v.item_id)] = v
        return list(chosen.values())

    @property
    def file_count(self) -> int:
        return sum(len(v.files) for v in self.versions)


def _name(person_id: int | None, display_name: str | None, purged_at: datetime | None) -> str:
    return person_in_words(audit.actor_label(person_id, display_name, purged_at is not None))


Rows = Sequence[Sequence[Any]]


@dataclass(frozen=True)
class ExportRows:
    """What the database holds for an export, as fetched: turned into `ExportData` by `assemble` (in a thread)."""

    campaign: tuple[int, str, str, datetime]
    opds: Rows
    items: Rows
    assigned: Rows
    liaisons: Rows
    accepted_at: Rows
    files: Rows
    findings: Rows
    versions: Rows
    events: Rows
    calendar: WorkingCalendar


async def load_export(session: AsyncSession, settings: Settings, campaign_id: int, now: datetime) -> ExportData:
    """`read_export`, then `assemble` (for callers that need no thread: tests, small campaigns)."""
    return assemble(await read_export(session, settings, campaign_id, now), now)


async def read_export(session: AsyncSession, settings: Settings, campaign_id: int, now: datetime) -> ExportRows:
    """The campaign with its OPDs, liaisons, items, assignments, versions, files, reviews and SOP events.

    Eleven statements whatever the size of the campaign (tests/test_exports.py counts them); the rows are only
    fetched here, so the event loop does no more than the driver's work; `assemble` does the rest in a thread.
    """
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise DomainError("kampanye/tidak_dikenal", id=campaign_id)

    async def rows(query: Any) -> Rows:
        return (await session.execute(query)).all()

    version = SubmissionVersion
    uploader, reviewer = aliased(Person), aliased(Person)
    opds = await rows(
        select(Opd.id, Opd.code, Opd.name, Opd.short_name)
        .join(CampaignOpd, CampaignOpd.opd_id == Opd.id)
        .where(CampaignOpd.campaign_id == campaign_id)
    )
    items = await rows(
        select(CampaignItem.id, CampaignItem.code, CampaignItem.title, CampaignItem.required)
        .where(CampaignItem.campaign_id == campaign_id)
        .order_by(CampaignItem.position, CampaignItem.id)
    )
    assigned = await rows(
        select(ItemAssignment.opd_id, ItemAssignment.campaign_item_id)
        .join(CampaignItem, CampaignItem.id == ItemAssignment.campaign_item_id)
        .where(CampaignItem.campaign_id == campaign_id)
    )
    liaisons = await rows(
        select(RoleAssignment.opd_id, Person.id, Person.display_name, Person.purged_at)
        .join(Person, Person.id == RoleAssignment.person_id)
        .join(CampaignOpd, CampaignOpd.opd_id == RoleAssignment.opd_id)
        .where(CampaignOpd.campaign_id == campaign_id, counts_as_liaison())
        .order_by(RoleAssignment.opd_id, Person.display_name, Person.id)
    )
    accepted_at = await rows(
        select(SubmissionReview.version_id, func.max(SubmissionReview.at))
        .join(version, version.id == SubmissionReview.version_id)
        .where(version.campaign_id == campaign_id, SubmissionReview.decision == ReviewDecision.ACCEPTED.value)
        .group_by(SubmissionReview.version_id)
    )
    files = await rows(
        select(
            SubmissionFile.version_id,
            SubmissionFile.position,
            SubmissionFile.file_name,
            SubmissionFile.size,
            SubmissionFile.sha256,
        )
        .join(version, version.id == SubmissionFile.version_id)
        .where(version.campaign_id == campaign_id)
        .order_by(SubmissionFile.version_id, SubmissionFile.position)
    )
    findings = await rows(
        select(EvidenceFinding.version_id, func.count())
        .join(version, version.id == EvidenceFinding.version_id)
        .where(version.campaign_id == campaign_id)
        .group_by(EvidenceFinding.version_id)
    )
    versions = await rows(
        select(
            version.id,
            version.opd_id,
            version.campaign_item_id,
            version.number,
            version.created_at,
            version.on_behalf,
            version.review_state,
            version.superseded_by_number,
            version.review_note,
            version.uploaded_by_person_id,
            uploader.display_name,
            uploader.purged_at,
            version.reviewed_by_person_id,
            reviewer.display_name,
            reviewer.purged_at,
        )
        .join(uploader, uploader.id == version.uploaded_by_person_id)
        .outerjoin(reviewer, reviewer.id == version.reviewed_by_person_id)
        .where(version.campaign_id == campaign_id)
        .order_by(version.opd_id, version.campaign_item_id, version.number)
    )
    events = await rows(
        select(CampaignEvent.kind, CampaignEvent.at)
        .where(CampaignEvent.campaign_id == campaign_id)
        .order_by(CampaignEvent.at, CampaignEvent.id)
    )
    first = events[0][1].year if events else now.year
    calendar = await load_calendar(session, settings, range(first, now.year + 1))
    return ExportRows(
        (campaign.id, campaign.title, campaign.state, campaign.deadline),
        opds,
        items,
        assigned,
        liaisons,
        accepted_at,
        files,
        findings,
        versions,
        events,
        calendar,
    )


def assemble(rows: ExportRows, now: datetime) -> ExportData:
    """The export's views from the fetched rows; everything per OPD is counted here, as `/status` counts it."""
    campaign_id, title, state, deadline = rows.campaign
    items = tuple(ExportItem(*row) for row in rows.items)
    assigned = frozenset((opd_id, item_id) for opd_id, item_id in rows.assigned)
    liaisons: dict[int, list[str]] = {}
    for opd_id, person_id, display_name, purged_at in rows.liaisons:
        liaisons.setdefault(opd_id, []).append(_name(person_id, display_name, purged_at))
    versions = _versions(rows)
    required = {item.id for item in items if item.required}
    latest = {(v.opd_id, v.item_id): v for v in versions}
    last_upload: dict[int, datetime] = {}
    for v in versions:
        last_upload[v.opd_id] = max(v.created_at, last_upload.get(v.opd_id, v.created_at))
    opds = []
    for opd_id, code, name, short_name in rows.opds:
        states = Counter(
            latest[(opd_id, item_id)].review_state if (opd_id, item_id) in latest else None
            for item_id in required
            if (opd_id, item_id) in assigned
        )
        standing = OpdStanding(
            code,
            name,
            short_name,
            required=sum(states.values()),
            complete=states[ReviewState.SUBMITTED.value] + states[ReviewState.ACCEPTED.value],
            verified=states[ReviewState.ACCEPTED.value],
            last_upload=last_upload.get(opd_id),
        )
        opds.append(
            ExportOpd(
                opd_id,
                code,
                name,
                short_name,
                tuple(liaisons.get(opd_id, ())),
                standing,
                states[ReviewState.SUBMITTED.value],
                states[ReviewState.REVISION_REQUESTED.value],
                sum(v.findings for (o, item_id), v in latest.items() if o == opd_id and (o, item_id) in assigned),
            )
        )
    order = {s.opd_code: n for n, s in enumerate(behind_first(o.standing for o in opds))}
    events = [EventView(kind, at, "", None) for kind, at in rows.events]
    return ExportData(
        campaign_id,
        title,
        CampaignState(state),
        deadline,
        now,
        tuple(sorted(opds, key=lambda o: order[o.code])),
        items,
        assigned,
        tuple(versions),
        tuple(step_progress(events, rows.calendar, now)),
        rows.calendar.minutes_per_day,
    )


def _versions(rows: ExportRows) -> list[ExportVersion]:
    accepted_at: dict[int, datetime] = {version_id: at for version_id, at in rows.accepted_at}
    findings: dict[int, int] = {version_id: count for version_id, count in rows.findings}
    files: dict[int, list[ExportFile]] = {}
    for version_id, position, name, size, sha256 in rows.files:
        files.setdefault(version_id, []).append(ExportFile(position, name, size, sha256))
    return [
        ExportVersion(
            opd_id,
            item_id,
            number,
            created_at,
            _name(uploader_id, uploader_name, uploader_purged),
            on_behalf,
            state,
            superseded,
            _name(reviewer_id, reviewer_name, reviewer_purged) if reviewer_id is not None else None,
            note,
            accepted_at.get(version_id),
            tuple(files.get(version_id, ())),
            findings.get(version_id, 0),
        )
        for (
            version_id,
            opd_id,
            item_id,
            number,
            created_at,
            on_behalf,
            state,
            superseded,
            note,
            uploader_id,
            uploader_name,
            uploader_purged,
            reviewer_id,
            reviewer_name,
            reviewer_purged,
        ) in rows.versions
    ]
