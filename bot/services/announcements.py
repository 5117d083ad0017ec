"""Announcements (`/umumkan`): a text, and optionally one document, to the liaisons of a campaign's OPDs.

They replace the WhatsApp group's announcements: each liaison of the chosen OPDs (or of all the campaign's OPDs)
gets one outbox message of kind `pengumuman`; once none of them waits any more, the sender gets the delivery
report (how many were reached, which OPDs were not). The messages are queued in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation.envelope import Document, Envelope
from bot.domain.enums import CampaignState, OutboxStatus, Role
from bot.errors import DomainError
from bot.services import audit, outbox
from bot.services.audit import Acting
from bot.services.identity import counts_as_liaison
from bot.services.safe_text import display_text
from bot.services.uploads import register_blob
from storage.filestore import Blob
from storage.models import (
    Announcement,
    AnnouncementRecipient,
    Campaign,
    CampaignOpd,
    Opd,
    OutboxMessage,
    RoleAssignment,
)

KIND = "pengumuman"
ANNOUNCERS = frozenset({Role.ADMIN, Role.KASI})
# Liaisons still work on a campaign while it is collected, recapped and discussed at the meeting.
ANNOUNCEABLE_STATES = (CampaignState.OPEN, CampaignState.CLOSED, CampaignState.RECAPPED)
TEXT_MAX = 3000  # below a WhatsApp text's 4,096 characters, with the heading and the sender's name
# With a document the text is its caption: Telegram and WhatsApp cut captions at 1,024 characters, heading included.
CAPTION_TEXT_MAX = 850
ALL_WORD = "SEMUA"


@dataclass(frozen=True)
class AnnouncementCampaign:
    campaign_id: int
    title: str
    opd_codes: tuple[str, ...]


@dataclass(frozen=True)
class OpdLiaisons:
    code: str
    name: str
    person_ids: tuple[int, ...]


@dataclass(frozen=True)
class Audience:
    """Who an announcement would reach: the chosen OPDs with liaisons, and those without any."""

    opds: tuple[OpdLiaisons, ...]
    without_liaison: tuple[str, ...]

    @property
    def liaisons(self) -> int:
        return sum(len(o.person_ids) for o in self.opds)


@dataclass(frozen=True)
class AnnouncementMessage:
    """What a liaison reads (and the WhatsApp template's `a.title`)."""

    id: int
    title: str  # the campaign's
    sender: str
    text: str
    document_name: str | None


@dataclass(frozen=True)
class DeliveryReport:
    """An announcement's delivery, counted in liaisons; the OPDs none of whose liaisons it reached."""

    id: int
    title: str
    liaisons: int
    reached: int
    awaiting_reply: int  # WhatsApp: its template went out, the announcement follows the liaison's reply
    unreachable_opds: tuple[str, ...]  # none of their liaisons reached


def require_announcer(acting: Acting) -> int:
    if acting.person_id is None or acting.role is None or Role(acting.role) not in ANNOUNCERS:
        raise DomainError("pengumuman/tidak_berwenang")
    return acting.person_id


def clean_text(text: str, *, with_document: bool = False) -> str:
    """The announcement's text: not empty, not longer than one message (or a document's caption) holds."""
    cleaned = display_text(text, multiline=True).strip()
    if not cleaned:
        raise DomainError("pengumuman/teks_kosong")
    limit = CAPTION_TEXT_MAX if with_document else TEXT_MAX
    if len(cleaned) > limit:
        raise DomainError("pengumuman/teks_terlalu_panjang", panjang=len(cleaned), batas=limit, lampiran=with_document)
    return cleaned


async def announceable_campaigns(session: AsyncSession) -> list[AnnouncementCampaign]:
    """The campaigns whose liaisons may be told something, newest first."""
    rows = await session.execute(
        select(Campaign.id)
        .where(Campaign.state.in_([s.value for s in ANNOUNCEABLE_STATES]))
        .order_by(Campaign.id.desc())
    )
    return [await require_campaign(session, campaign_id) for campaign_id in rows.scalars()]


async def require_campaign(session: AsyncSession, campaign_id: int) -> AnnouncementCampaign:
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise DomainError("kampanye/tidak_dikenal", id=campaign_id)
    if CampaignState(campaign.state) not in ANNOUNCEABLE_STATES:
        raise DomainError("pengumuman/kegiatan_belum_dibuka", id=campaign_id, judul=campaign.title)
    codes = await session.scalars(
        select(Opd.code)
        .join(CampaignOpd, CampaignOpd.opd_id == Opd.id)
        .where(CampaignOpd.campaign_id == campaign_id)
        .order_by(Opd.code)
    )
    return AnnouncementCampaign(campaign.id, campaign.title, tuple(codes))


def chosen_opds(campaign: AnnouncementCampaign, words: Sequence[str]) -> tuple[str, ...]:
    """The OPD codes typed (or `semua`), each one of the campaign's; anything else is refused by name."""
    codes = sorted({w.strip(",;").upper() for w in words if w.strip(",;")})
    if not codes:
        raise DomainError("pengumuman/opd_kosong")
    if codes == [ALL_WORD]:
        return campaign.opd_codes
    unknown = [c for c in codes if c not in campaign.opd_codes]
    if unknown:
        raise DomainError("pengumuman/opd_bukan_peserta", kode=", ".join(unknown), judul=campaign.title)
    return tuple(codes)


async def audience(session: AsyncSession, campaign_id: int, opd_codes: Sequence[str]) -> Audience:
    """The active liaisons of these OPDs of the campaign, in one query."""
    rows = await session.execute(
        select(Opd.code, Opd.name, RoleAssignment.person_id)
        .join(CampaignOpd, and_(CampaignOpd.opd_id == Opd.id, CampaignOpd.campaign_id == campaign_id))
        .outerjoin(RoleAssignment, and_(RoleAssignment.opd_id == Opd.id, counts_as_liaison()))
        .where(Opd.code.in_(list(opd_codes)))
        .order_by(Opd.code, RoleAssignment.person_id)
    )
    per_opd: dict[tuple[str, str], list[int]] = {}
    for code, name, person_id in rows.all():
        people = per_opd.setdefault((code, name), [])
        if person_id is not None and person_id not in people:
            people.append(person_id)
    return Audience(
        opds=tuple(OpdLiaisons(code, name, tuple(p)) for (code, name), p in per_opd.items() if p),
        without_liaison=tuple(code for (code, _), p in per_opd.items() if not p),
    )


async def announce(
    session: AsyncSession,
    campaign_id: int,
    *,
    text: str,
    opd_codes: Sequence[str],
    document: tuple[str, str] | None,
    sender_name: str,
    acting: Acting,
    now: datetime,
) -> tuple[int, Audience]:
    """Record the announcement and queue it for every liaison of the chosen OPDs; refused when it reaches nobody."""
    sender = require_announcer(acting)
    campaign = await require_campaign(session, campaign_id)
    body = clean_text(text, with_document=document is not None)
    reach = await audience(session, campaign.campaign_id, opd_codes)
    if not reach.liaisons:
        raise DomainError("pengumuman/tanpa_penerima", opd=", ".join(reach.without_liaison) or "-")
    row = Announcement(
        campaign_id=campaign.campaign_id,
        sender_person_id=sender,
        text=body,
        document_sha256=document[0] if document else None,
        document_name=document[1] if document else None,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    message = AnnouncementMessage(row.id, campaign.title, sender_name, body, row.document_name)
    opd_ids = dict(
        (await session.execute(select(Opd.code, Opd.id).where(Opd.code.in_([o.code for o in reach.opds])))).all()
    )
    for opd in reach.opds:
        for person_id in opd.person_ids:
            envelope = Envelope.of(
                KIND,
                "pengumuman/pesan",
                document=Document(*document) if document else None,
                a=message,
                opd=opd.name,
            )
            outbox_id = await outbox.enqueue(
                session,
                person_id=person_id,
                message=envelope,
                now=now,
                campaign_id=campaign.campaign_id,
                opd_id=opd_ids[opd.code],
            )
            session.add(
                AnnouncementRecipient(
                    announcement_id=row.id, person_id=person_id, opd_id=opd_ids[opd.code], outbox_message_id=outbox_id
                )
            )
    await audit.record(
        session,
        acting,
        "announcement_sent",
        now,
        object_type="announcement",
        object_id=row.id,
        campaign=campaign.campaign_id,
        opds=[o.code for o in reach.opds],
        liaisons=reach.liaisons,
        document=row.document_name,
    )
    return row.id, reach


async def keep_document(session: AsyncSession, blob: Blob, now: datetime) -> None:
    """The attachment is in the store already; its row keeps it from the clean-up of unreferenced files."""
    await register_blob(session, blob, now)


async def report_settled(session: AsyncSession, now: datetime) -> bool:
    """Every announcement none of whose messages waits any more: its sender gets the delivery report (once)."""
    rows = await session.execute(
        select(Announcement.id, Announcement.sender_person_id, Announcement.campaign_id, Campaign.title)
        .join(Campaign, Campaign.id == Announcement.campaign_id)
        .where(Announcement.reported_at.is_(None))
    )
    reported = False
    for announcement_id, sender, campaign_id, title in rows.all():
        report = await _report(session, announcement_id, title)
        if report is None:
            continue
        row = await session.get(Announcement, announcement_id)
        assert row is not None
        row.reported_at = now
        message = Envelope.of("laporan_pengumuman", "pengumuman/laporan", r=report)
        await outbox.enqueue(session, person_id=sender, message=message, now=now, campaign_id=campaign_id)
        reported = True
    return reported


async def _report(session: AsyncSession, announcement_id: int, title: str) -> DeliveryReport | None:
    """The report, or None while a message still waits or is being sent."""
    rows = (
        await session.execute(
            select(Opd.code, AnnouncementRecipient.person_id, OutboxMessage.status)
            .join(Opd, Opd.id == AnnouncementRecipient.opd_id)
            .join(OutboxMessage, OutboxMessage.id == AnnouncementRecipient.outbox_message_id)
            .where(AnnouncementRecipient.announcement_id == announcement_id)
            .order_by(Opd.code)
        )
    ).all()
    if any(status in outbox.OPEN for _, _, status in rows):
        return None
    sent, awaiting = OutboxStatus.SENT.value, OutboxStatus.AWAITING_REPLY.value
    reached_opds = {code for code, _, status in rows if status in (sent, awaiting)}
    return DeliveryReport(
        id=announcement_id,
        title=title,
        liaisons=len(rows),
        reached=sum(1 for _, _, status in rows if status == sent),
        awaiting_reply=sum(1 for _, _, status in rows if status == awaiting),
        unreachable_opds=tuple(sorted({code for code, _, _ in rows} - reached_opds)),
    )
