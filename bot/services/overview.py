"""Where a campaign stands across its OPDs: one campaign-wide query, the OPDs furthest behind first.

Staff and the Tim read it as `/status` without an OPD; the daily recap is built on the same `campaign_overview`.
Its statement count does not grow with OPDs, items or versions (tests/test_statement_counts.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Subquery

from bot.domain import deadlines
from bot.domain.enums import CampaignState, ReviewState
from bot.errors import DomainError
from bot.services.deadlines import extension_column
from bot.services.submissions import COLLECTING
from storage.models import Campaign, CampaignItem, CampaignOpd, ItemAssignment, Opd, SubmissionVersion

SENT = (ReviewState.SUBMITTED.value, ReviewState.ACCEPTED.value)


@dataclass(frozen=True)
class OpdStanding:
    """One OPD's figures in a campaign, counted over its required items as `/status` counts them."""

    opd_code: str
    opd_name: str
    short_name: str
    required: int
    complete: int  # required items whose latest version is sent or accepted (kelengkapan)
    verified: int  # required items whose latest version is accepted (terverifikasi)
    last_upload: datetime | None
    deadline: datetime | None = None  # the OPD's effective deadline (the campaign's, or its extension)

    def percent(self, count: int) -> int:
        return round(100 * count / self.required) if self.required else 100

    def late(self, now: datetime) -> bool:
        """Past the OPD's effective deadline with required items still missing."""
        return self.deadline is not None and now > self.deadline and self.complete < self.required


@dataclass(frozen=True)
class CampaignOverview:
    campaign_id: int
    title: str
    state: CampaignState
    deadline: datetime
    standings: tuple[OpdStanding, ...]  # furthest behind first


@dataclass(frozen=True)
class CampaignChoice:
    """A campaign that collects data dukung now (open, or closed for collection but not yet recapped)."""

    campaign_id: int
    title: str


_NEVER = datetime.min.replace(tzinfo=UTC)


def behind_first(standings: Iterable[OpdStanding]) -> tuple[OpdStanding, ...]:
    """Furthest behind first: lowest kelengkapan, then lowest terverifikasi, then oldest last upload (none first)."""

    def share(count: int, of: int) -> float:
        return count / of if of else 1.0

    return tuple(
        sorted(
            standings,
            key=lambda s: (
                share(s.complete, s.required),
                share(s.verified, s.required),
                s.last_upload or _NEVER,
                s.opd_code,
            ),
        )
    )


async def collecting_campaigns(session: AsyncSession) -> list[CampaignChoice]:
    """The campaigns that collect now, newest first."""
    rows = await session.execute(
        select(Campaign.id, Campaign.title).where(Campaign.state.in_(COLLECTING)).order_by(Campaign.id.desc())
    )
    return [CampaignChoice(campaign_id, title) for campaign_id, title in rows.all()]


async def campaign_overview(session: AsyncSession, campaign_id: int) -> CampaignOverview:
    """Every OPD of the campaign with its figures: the campaign, then one query over OPDs, items and versions."""
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise DomainError("kampanye/tidak_dikenal", id=campaign_id)
    return CampaignOverview(
        campaign.id,
        campaign.title,
        CampaignState(campaign.state),
        campaign.deadline,
        behind_first(await _standings(session, campaign_id, campaign.deadline)),
    )


def latest_version_states(campaign_id: int) -> Subquery:
    """The review state of the latest version of every (OPD, item) of a campaign: one subquery, any number of OPDs."""
    version = SubmissionVersion
    latest_number = (
        select(version.opd_id, version.campaign_item_id, func.max(version.number).label("number"))
        .where(version.campaign_id == campaign_id)
        .group_by(version.opd_id, version.campaign_item_id)
        .subquery()
    )
    return (
        select(version.opd_id, version.campaign_item_id, version.review_state)
        .join(
            latest_number,
            and_(
                version.opd_id == latest_number.c.opd_id,
                version.campaign_item_id == latest_number.c.campaign_item_id,
                version.number == latest_number.c.number,
            ),
        )
        .subquery()
    )


async def _standings(session: AsyncSession, campaign_id: int, deadline: datetime) -> list[OpdStanding]:
    version = SubmissionVersion
    latest = latest_version_states(campaign_id)
    required = (
        select(ItemAssignment.opd_id, CampaignItem.id.label("item_id"))
        .join(CampaignItem, CampaignItem.id == ItemAssignment.campaign_item_id)
        .where(CampaignItem.campaign_id == campaign_id, CampaignItem.required.is_(True))
        .subquery()
    )
    uploads = (
        select(version.opd_id, func.max(version.created_at).label("at"))
        .where(version.campaign_id == campaign_id)
        .group_by(version.opd_id)
        .subquery()
    )
    rows = await session.execute(
        select(
            Opd.code,
            Opd.name,
            Opd.short_name,
            func.count(required.c.item_id),
            func.coalesce(func.sum(case((latest.c.review_state.in_(SENT), 1), else_=0)), 0),
            func.coalesce(func.sum(case((latest.c.review_state == ReviewState.ACCEPTED.value, 1), else_=0)), 0),
            uploads.c.at,
            extension_column(literal(campaign_id), Opd.id),
        )
        .select_from(CampaignOpd)
        .join(Opd, Opd.id == CampaignOpd.opd_id)
        .outerjoin(required, required.c.opd_id == Opd.id)
        .outerjoin(latest, and_(latest.c.opd_id == Opd.id, latest.c.campaign_item_id == required.c.item_id))
        .outerjoin(uploads, uploads.c.opd_id == Opd.id)
        .where(CampaignOpd.campaign_id == campaign_id)
        .group_by(Opd.id, Opd.code, Opd.name, Opd.short_name, uploads.c.at)
    )
    return [
        OpdStanding(
            code,
            name,
            short,
            int(required_count),
            int(complete),
            int(verified),
            at,
            deadlines.effective_deadline(deadline, [extended]),
        )
        for code, name, short, required_count, complete, verified, at, extended in rows.all()
    ]
