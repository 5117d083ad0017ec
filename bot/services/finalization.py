"""Finalizing a campaign (SOP step 7): with the signed BA in, the Kasi closes the round; the Kabid is told."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.enums import CampaignState, Role
from bot.errors import DomainError
from bot.services.audit import Acting
from bot.services.berita_acara import BA_STATES, signed_ba
from bot.services.campaigns import _event, _load, _move
from bot.services.people import people_with_roles
from storage.models import Campaign

FINALIZED_EVENT = "finalized"


@dataclass(frozen=True)
class CampaignChoice:
    campaign_id: int
    title: str


@dataclass(frozen=True)
class Finalized:
    campaign_id: int
    title: str
    kabids: tuple[int, ...]  # who is told


async def campaigns_in(session: AsyncSession, states: tuple[CampaignState, ...]) -> list[CampaignChoice]:
    """The campaigns in one of `states`, newest first (what `/ba` and `/selesai` without `#ID` may mean)."""
    rows = await session.execute(
        select(Campaign.id, Campaign.title)
        .where(Campaign.state.in_([s.value for s in states]))
        .order_by(Campaign.id.desc())
    )
    return [CampaignChoice(campaign_id, title) for campaign_id, title in rows.all()]


async def ba_campaigns(session: AsyncSession) -> list[CampaignChoice]:
    return await campaigns_in(session, BA_STATES)


async def finalizable_campaigns(session: AsyncSession) -> list[CampaignChoice]:
    return await campaigns_in(session, (CampaignState.RECAPPED,))


async def finalize(session: AsyncSession, campaign_id: int, *, acting: Acting, now: datetime) -> Finalized:
    """recapped → finalized, only with the signed BA stored; the event ends step 7. Audited with the event."""
    campaign = await _load(session, campaign_id)
    if campaign.state == CampaignState.FINALIZED.value:
        raise DomainError("umum/sudah_diproses")
    if campaign.state != CampaignState.RECAPPED.value:
        raise DomainError("selesai/belum_waktunya", id=campaign_id)
    signed = await signed_ba(session, campaign_id)
    if signed is None:
        raise DomainError("selesai/tanpa_ba_ttd", id=campaign_id)
    await _move(session, campaign, CampaignState.RECAPPED, CampaignState.FINALIZED)
    await _event(session, campaign, FINALIZED_EVENT, acting, now, signed_ba=signed.sha256)
    kabids = await people_with_roles(session, [Role.KABID])
    return Finalized(campaign_id, campaign.title, tuple(kabids))
