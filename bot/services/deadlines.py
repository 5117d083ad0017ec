"""Deadlines: each OPD's effective deadline (the campaign's or its extension) and recording an extension.

Every place that shows or uses a deadline asks here: `effective_deadline` for one OPD, or
`extension_column` inside a listing's own query so the statement count stays what it was.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, literal, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import SQLCoreOperations

from bot.domain import deadlines
from bot.domain.enums import CampaignState, Role
from bot.errors import DomainError
from bot.services import audit
from bot.services.audit import Acting
from storage.models import Campaign, CampaignOpd, DeadlineExtension, Opd, Person, RoleAssignment

# Who may extend a deadline (CONTRACT: `/perpanjang`).
EXTENDERS = frozenset({Role.ADMIN, Role.KASI, Role.KABID})


def extension_column(
    campaign_id: SQLCoreOperations[int], opd_id: SQLCoreOperations[int] | None
) -> ColumnElement[datetime]:
    """The furthest extension for this OPD (or, with no OPD, for every OPD) of the campaign; NULL when none."""
    applies: ColumnElement[bool] = DeadlineExtension.opd_id.is_(None)
    if opd_id is not None:
        applies = or_(applies, DeadlineExtension.opd_id == opd_id)
    return (
        select(func.max(DeadlineExtension.deadline))
        .where(DeadlineExtension.campaign_id == campaign_id, applies)
        .scalar_subquery()
        .label("extended_to")
    )


async def effective_deadline(session: AsyncSession, campaign_id: int, opd_id: int | None) -> datetime:
    """The OPD's effective deadline (`opd_id=None`: the one every OPD has at least), in one query."""
    row = (
        await session.execute(
            select(Campaign.deadline, extension_column(Campaign.id, None if opd_id is None else literal(opd_id))).where(
                Campaign.id == campaign_id
            )
        )
    ).one()
    return deadlines.effective_deadline(row[0], [row[1]])


def extending_role(held: Collection[Role]) -> Role | None:
    """The role an extension is audited in (admin, then Kasi, then Kabid); None (refused) for anyone else."""
    return next((r for r in (Role.ADMIN, Role.KASI, Role.KABID) if r in held), None)


@dataclass(frozen=True)
class OpenCampaign:
    campaign_id: int
    title: str


async def extendable_campaigns(session: AsyncSession) -> list[OpenCampaign]:
    """The campaigns whose deadline can be extended: those open for collection, newest first."""
    rows = await session.execute(
        select(Campaign.id, Campaign.title)
        .where(Campaign.state == CampaignState.OPEN.value)
        .order_by(Campaign.id.desc())
    )
    return [OpenCampaign(campaign_id, title) for campaign_id, title in rows.all()]


@dataclass(frozen=True)
class Extension:
    campaign_id: int
    title: str
    opd_code: str | None  # None: every OPD of the campaign
    deadline: datetime
    previous: datetime
    reason: str
    by: str
    liaisons: tuple[int, ...]  # who is told (person ids)


async def extend(
    session: AsyncSession,
    campaign_id: int,
    opd_code: str | None,
    deadline: datetime,
    reason: str,
    *,
    acting: Acting,
    now: datetime,
) -> Extension:
    """Record a later deadline for one OPD or (`opd_code=None`) all of them; audited; returns whom to tell.

    Refused: a role that may not extend, a campaign not collecting, an OPD not taking part, a date in the past
    or one that is not later than the deadline it would replace.
    """
    if acting.person_id is None or acting.role is None or Role(acting.role) not in EXTENDERS:
        raise DomainError("tenggat/tidak_berwenang")
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None or campaign.state != CampaignState.OPEN.value:
        raise DomainError("tenggat/tidak_berjalan", id=campaign_id)
    opd_id: int | None = None
    if opd_code is not None:
        opd_id = await session.scalar(
            select(Opd.id)
            .join(CampaignOpd, CampaignOpd.opd_id == Opd.id)
            .where(CampaignOpd.campaign_id == campaign_id, Opd.code == opd_code.upper())
        )
        if opd_id is None:
            raise DomainError("tenggat/opd_bukan_peserta", opd=opd_code.upper()[:16], judul=campaign.title)
    reason = reason.strip()
    if not reason:
        raise DomainError("tenggat/alasan_kosong")
    if deadline <= now:
        raise DomainError("tenggat/sudah_lewat", tenggat=deadline)
    previous = await effective_deadline(session, campaign_id, opd_id)
    if deadline <= previous:
        raise DomainError("tenggat/tidak_lebih_lama", tenggat=deadline, sekarang=previous)
    session.add(
        DeadlineExtension(
            campaign_id=campaign_id,
            opd_id=opd_id,
            deadline=deadline,
            reason=reason,
            person_id=acting.person_id,
            created_at=now,
        )
    )
    await audit.record(
        session,
        acting,
        "deadline_extended",
        now,
        object_type="campaign",
        object_id=campaign_id,
        opd=opd_code.upper() if opd_code else None,
        deadline=deadline.isoformat(),
        previous=previous.isoformat(),
        reason=reason,
    )
    liaisons = (
        await session.scalars(
            select(RoleAssignment.person_id)
            .join(CampaignOpd, CampaignOpd.opd_id == RoleAssignment.opd_id)
            .where(
                CampaignOpd.campaign_id == campaign_id,
                RoleAssignment.role == Role.OPD.value,
                RoleAssignment.revoked_at.is_(None),
                true() if opd_id is None else RoleAssignment.opd_id == opd_id,
            )
            .distinct()
            .order_by(RoleAssignment.person_id)
        )
    ).all()
    by = await session.get_one(Person, acting.person_id)
    return Extension(
        campaign_id,
        campaign.title,
        opd_code.upper() if opd_code else None,
        deadline,
        previous,
        reason,
        by.display_name or f"pengguna-{by.id}",
        tuple(liaisons),
    )
