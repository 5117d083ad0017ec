"""Review of submitted versions: the queue (with a short claim), decisions, and reopening an accepted item.

A review is a row of `submission_review` (append-only); the version keeps the latest one as its current state
(`review_state`, `reviewed_by_person_id`, `review_note`), written by the same UPDATE that checks the state it
expects, so of two reviewers deciding at once only the first writes and the second reads "sudah ditinjau".
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, case, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation.envelope import Envelope
from bot.domain import deadlines as deadline_rule
from bot.domain.enums import CampaignState, ReviewDecision, ReviewReason, ReviewState, Role
from bot.errors import DomainError
from bot.services import audit, bot_state, deadlines, outbox, people
from bot.services.audit import Acting
from bot.services.submissions import ReceiptFile
from storage.models import (
    Campaign,
    CampaignItem,
    Opd,
    Person,
    SubmissionFile,
    SubmissionReview,
    SubmissionVersion,
)

logger = logging.getLogger(__name__)

# Who reviews and reopens (CONTRACT: `/tinjau`, `/buka`).
REVIEWERS = frozenset({Role.ADMIN, Role.KASI})
# How long a version shown to one reviewer is kept from the others.
CLAIM = timedelta(minutes=5)
RESULT_KIND = "hasil_tinjauan"
# The same predicate as the partial index `ix_submission_review_queue`, written as text so the planner (given
# literal values, not parameters) can use that index.
WAITING = text("submission_version.review_state = 'submitted' AND submission_version.superseded_by_number IS NULL")
# Reviewing happens while the campaign collects and after collection closed, before the recap.
REVIEWABLE = (CampaignState.OPEN.value, CampaignState.CLOSED.value)


@dataclass(frozen=True)
class ReviewItem:
    """One version as the reviewer sees it: whose, which item, what it should hold, its files."""

    version_id: int
    campaign_id: int
    campaign_title: str
    opd_code: str
    opd_name: str
    item_code: str
    item_title: str
    item_description: str
    number: int
    created_at: datetime
    late: bool
    deadline: datetime
    uploader: str
    on_behalf: bool
    files: tuple[ReceiptFile, ...]
    claimed_until: datetime


@dataclass(frozen=True)
class Decision:
    """A recorded review, with the liaisons it was sent to."""

    version_id: int
    campaign_title: str
    opd_code: str
    opd_name: str
    item_code: str
    item_title: str
    number: int
    decision: ReviewDecision
    reason: ReviewReason | None
    note: str | None
    reviewer: str
    told: tuple[int, ...]


def reviewing_role(held: Collection[Role]) -> Role | None:
    """The role a review is audited in: admin before Kasi for someone holding both; None (refused) for others."""
    return next((r for r in (Role.ADMIN, Role.KASI) if r in held), None)


def require_reviewer(acting: Acting) -> int:
    """The reviewer's person id; refuses anyone not acting as admin or Kasi."""
    if acting.person_id is None or acting.role is None or acting.role not in {r.value for r in REVIEWERS}:
        raise DomainError("tinjau/tidak_berwenang")
    return acting.person_id


def _free_for(person_id: int, now: datetime) -> ColumnElement[bool]:
    """Not shown to another reviewer right now (unclaimed, claim expired, or this reviewer's own)."""
    return or_(
        SubmissionVersion.review_claimed_until.is_(None),
        SubmissionVersion.review_claimed_until <= now,
        SubmissionVersion.review_claimed_by_person_id == person_id,
    )


async def waiting_count(session: AsyncSession, campaign_id: int) -> int:
    """How many versions of the campaign wait for review (claimed ones included)."""
    return int(
        await session.scalar(select(func.count()).where(SubmissionVersion.campaign_id == campaign_id, WAITING)) or 0
    )


async def next_for_review(
    session: AsyncSession, campaign_id: int, *, acting: Acting, now: datetime
) -> ReviewItem | None:
    """The oldest waiting version nobody else is looking at, claimed for `CLAIM`; None when the queue is empty.

    Two reviewers asking at once both read the same oldest version; the claim is a compare-and-set, so only one
    takes it and the other reads on (a bounded number of times: the queue moves only forward).
    """
    person_id = require_reviewer(acting)
    for _ in range(5):
        version_id = await session.scalar(
            select(SubmissionVersion.id)
            .where(SubmissionVersion.campaign_id == campaign_id, WAITING, _free_for(person_id, now))
            .order_by(SubmissionVersion.created_at, SubmissionVersion.id)
            .limit(1)
        )
        if version_id is None:
            return None
        claimed = await session.execute(
            update(SubmissionVersion)
            .where(SubmissionVersion.id == version_id, WAITING, _free_for(person_id, now))
            .values(review_claimed_by_person_id=person_id, review_claimed_until=now + CLAIM)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount:  # type: ignore[attr-defined]
            return await review_item(session, version_id)
    return None


async def review_item(session: AsyncSession, version_id: int) -> ReviewItem:
    """What the reviewer is shown of one version (three queries)."""
    row = (
        await session.execute(
            select(SubmissionVersion, Campaign, CampaignItem, Opd, Person.display_name)
            .join(Campaign, Campaign.id == SubmissionVersion.campaign_id)
            .join(CampaignItem, CampaignItem.id == SubmissionVersion.campaign_item_id)
            .join(Opd, Opd.id == SubmissionVersion.opd_id)
            .join(Person, Person.id == SubmissionVersion.uploaded_by_person_id)
            .where(SubmissionVersion.id == version_id)
        )
    ).one()
    version, campaign, item, opd, uploader = row
    files = (
        await session.scalars(
            select(SubmissionFile).where(SubmissionFile.version_id == version_id).order_by(SubmissionFile.position)
        )
    ).all()
    deadline = await deadlines.effective_deadline(session, campaign.id, opd.id)
    return ReviewItem(
        version.id,
        campaign.id,
        campaign.title,
        opd.code,
        opd.name,
        item.code,
        item.title,
        item.description,
        version.number,
        version.created_at,
        version.late or deadline_rule.is_late(version.created_at, deadline),
        deadline,
        uploader or f"pengguna-{version.uploaded_by_person_id}",
        version.on_behalf,
        tuple(ReceiptFile(f.file_name, f.size, f.sha256) for f in files),
        version.review_claimed_until or version.created_at,
    )


async def decide(
    session: AsyncSession,
    campaign_id: int,
    version_id: int,
    decision: ReviewDecision,
    *,
    note: str | None,
    reason: ReviewReason | None,
    acting: Acting,
    now: datetime,
) -> Decision:
    """Accept, or return for revision (a note is required), one version; the liaisons are told (outbox).

    Refused: no reviewer role, a version of another campaign, a version already reviewed or replaced by a newer
    one, a version another reviewer holds right now.
    """
    person_id = require_reviewer(acting)
    if decision is ReviewDecision.REOPENED:
        raise ValueError("reopening is `reopen`")
    note = (note or "").strip() or None
    if decision is ReviewDecision.REVISION_REQUESTED and note is None:
        raise DomainError("tinjau/catatan_kosong")
    if decision is ReviewDecision.ACCEPTED:
        reason = None
    version = await session.get(SubmissionVersion, version_id)
    if version is None or version.campaign_id != campaign_id:
        raise DomainError("tinjau/kegiatan_lain", audit_action="forged_review")
    campaign = await session.get_one(Campaign, campaign_id)
    if campaign.state not in REVIEWABLE:
        raise DomainError("tinjau/kegiatan_tidak_ditinjau", judul=campaign.title)
    moved = await session.execute(
        update(SubmissionVersion)
        .where(SubmissionVersion.id == version_id, WAITING, _free_for(person_id, now))
        .values(
            review_state=decision.state.value,
            reviewed_by_person_id=person_id,
            review_note=note,
            review_claimed_by_person_id=None,
            review_claimed_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    if not moved.rowcount:  # type: ignore[attr-defined]
        await session.refresh(version)
        if version.review_state == ReviewState.SUBMITTED.value and version.superseded_by_number is None:
            raise DomainError("tinjau/sedang_ditinjau")
        raise DomainError("tinjau/sudah_ditinjau", versi=version.number)
    return await _record(session, version, decision, reason, note, acting=acting, now=now)


async def reopen(
    session: AsyncSession,
    campaign_id: int,
    opd_code: str,
    item_code: str,
    reason: str,
    *,
    acting: Acting,
    now: datetime,
) -> Decision:
    """`/buka`: the accepted latest version of an OPD's item goes back to the queue, so new versions are taken."""
    require_reviewer(acting)
    reason = reason.strip()
    if not reason:
        raise DomainError("tinjau/buka_alasan_kosong")
    row = (
        await session.execute(
            select(SubmissionVersion)
            .join(CampaignItem, CampaignItem.id == SubmissionVersion.campaign_item_id)
            .join(Opd, Opd.id == SubmissionVersion.opd_id)
            .where(
                SubmissionVersion.campaign_id == campaign_id,
                Opd.code == opd_code.upper(),
                CampaignItem.code == item_code.upper(),
            )
            .order_by(SubmissionVersion.number.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if row is None or row.review_state != ReviewState.ACCEPTED.value:
        raise DomainError("tinjau/buka_belum_diterima", opd=opd_code.upper()[:16], kode=item_code.upper()[:16])
    moved = await session.execute(
        update(SubmissionVersion)
        .where(SubmissionVersion.id == row.id, SubmissionVersion.review_state == ReviewState.ACCEPTED.value)
        .values(review_state=ReviewState.SUBMITTED.value, reviewed_by_person_id=acting.person_id, review_note=reason)
        .execution_options(synchronize_session=False)
    )
    if not moved.rowcount:  # type: ignore[attr-defined]
        raise DomainError("umum/sudah_diproses")
    return await _record(session, row, ReviewDecision.REOPENED, None, reason, acting=acting, now=now)


async def _record(
    session: AsyncSession,
    version: SubmissionVersion,
    decision: ReviewDecision,
    reason: ReviewReason | None,
    note: str | None,
    *,
    acting: Acting,
    now: datetime,
) -> Decision:
    """The review row, its audit row and the liaisons' message, in the caller's transaction."""
    assert acting.person_id is not None and acting.role is not None  # require_reviewer checked both
    session.add(
        SubmissionReview(
            version_id=version.id,
            decision=decision.value,
            reason=reason.value if reason else None,
            note=note,
            reviewer_person_id=acting.person_id,
            role=acting.role,
            at=now,
        )
    )
    item = await session.get_one(CampaignItem, version.campaign_item_id)
    opd = await session.get_one(Opd, version.opd_id)
    campaign = await session.get_one(Campaign, version.campaign_id)
    reviewer = await session.get_one(Person, acting.person_id)
    await audit.record(
        session,
        acting,
        "review_" + decision.value,
        now,
        object_type="submission_version",
        object_id=version.id,
        opd=opd.code,
        item=item.code,
        version=version.number,
        reason=reason.value if reason else None,
        note=note,
    )
    told = await people.people_with_roles(session, [Role.OPD], opd.id)
    result = Decision(
        version.id,
        campaign.title,
        opd.code,
        opd.name,
        item.code,
        item.title,
        version.number,
        decision,
        reason,
        note,
        reviewer.display_name or f"pengguna-{reviewer.id}",
        tuple(told),
    )
    message = Envelope.of(RESULT_KIND, "tinjau/hasil", d=result)
    for liaison in told:
        await outbox.enqueue(
            session, person_id=liaison, message=message, now=now, campaign_id=campaign.id, opd_id=opd.id
        )
    logger.info("review %s of version %s by person %s", decision.value, version.id, acting.person_id)
    return result


@dataclass(frozen=True)
class ReviewEntry:
    decision: ReviewDecision
    reason: ReviewReason | None
    note: str | None
    reviewer_person_id: int
    at: datetime


async def history(session: AsyncSession, version_id: int) -> list[ReviewEntry]:
    """Every review of a version, oldest first: the audit and the exports read it."""
    rows = await session.scalars(
        select(SubmissionReview).where(SubmissionReview.version_id == version_id).order_by(SubmissionReview.id)
    )
    return [
        ReviewEntry(
            ReviewDecision(r.decision), ReviewReason(r.reason) if r.reason else None, r.note, r.reviewer_person_id, r.at
        )
        for r in rows.all()
    ]


DIGEST_KEY = "review_digest_at"  # bot_state: when the last digest counted new versions up to


@dataclass(frozen=True)
class DigestLine:
    campaign_id: int
    title: str
    new: int  # versions filed since the last digest that still wait
    waiting: int  # every version of the campaign that waits


@dataclass(frozen=True)
class Digest:
    lines: tuple[DigestLine, ...]
    reviewers: tuple[int, ...]


async def due_digest(session: AsyncSession, now: datetime, every: timedelta) -> Digest | None:
    """The digest for admins and the Kasi when `every` has passed since the last one and new versions wait.

    One message per period whatever the number of files (the last digest's time is kept in `bot_state`, so a
    restart neither repeats nor skips one). None when it is not time yet or nothing new waits.
    """
    last_text = await bot_state.recall(session, DIGEST_KEY)
    last = datetime.fromisoformat(last_text) if last_text else None
    if last is not None and now - last < every:
        return None
    new_since = last or datetime(1970, 1, 1, tzinfo=UTC)  # the first digest counts everything waiting
    rows = (
        await session.execute(
            select(
                Campaign.id,
                Campaign.title,
                func.count(),
                func.sum(case((SubmissionVersion.created_at > new_since, 1), else_=0)),
            )
            .join(Campaign, Campaign.id == SubmissionVersion.campaign_id)
            .where(WAITING, Campaign.state.in_(REVIEWABLE))
            .group_by(Campaign.id, Campaign.title)
            .order_by(Campaign.id)
        )
    ).all()
    await bot_state.remember(session, DIGEST_KEY, now.isoformat(), now)
    lines = tuple(DigestLine(c, t, int(n or 0), int(w)) for c, t, w, n in rows if n)
    if not lines:
        return None
    reviewers = await people.people_with_roles(session, REVIEWERS)
    return Digest(lines, tuple(reviewers))
