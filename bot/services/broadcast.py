"""The broadcast: each liaison of each OPD of an open campaign gets the signed letter and their own data request.

Use cases of their own (the "Kirim undangan" button and a liaison's registration both call them), taking a session
and plain values, so the benchmark and the crash tests queue a broadcast exactly as the button does. The messages
are queued in the caller's transaction as envelopes (rendered when they go out); the outbox dispatcher sends them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation.envelope import Document, Envelope
from bot.domain.enums import OutboxStatus, Role
from bot.services import campaigns, outbox, people
from bot.services.campaigns import InvitationTarget
from bot.services.invites import issuable_by
from storage.models import CampaignOpd, Opd, OutboxMessage, Person, RoleAssignment

# Who reads the delivery report besides the uploader of the signed letter: the Kasi and the Kabid follow step 2.
REPORT_READERS = frozenset({Role.KASI, Role.KABID})


async def invite_all(session: AsyncSession, campaign_id: int, now: datetime) -> int:
    """Queue the invitations of a campaign that just opened; returns how many liaisons get them."""
    targets = await campaigns.invitation_targets(session, campaign_id)
    for target in targets:
        await _invite(session, target, now)
    return len(targets)


async def invite_new_liaison(session: AsyncSession, person_id: int, opd_code: str, now: datetime) -> None:
    """A liaison registering for an OPD of an open campaign receives what the others received."""
    for campaign_id in await campaigns.open_campaigns_of(session, opd_code):
        for target in await campaigns.invitation_targets(session, campaign_id, person_id=person_id, opd_code=opd_code):
            await _invite(session, target, now)


async def _invite(session: AsyncSession, target: InvitationTarget, now: datetime) -> None:
    messages = []
    if target.letter is not None:
        letter = Document(*target.letter)
        messages.append(Envelope.of("undangan", "kampanye/undangan_keterangan", document=letter, t=target))
    messages.append(Envelope.of("permintaan_data", "kampanye/permintaan_data", t=target))
    for message in messages:
        await outbox.enqueue(
            session,
            person_id=target.person_id,
            message=message,
            now=now,
            campaign_id=target.campaign_id,
            opd_id=target.opd_id,
        )


@dataclass(frozen=True)
class OpdReach:
    """How the broadcast reached the liaisons of one OPD, counted in people (each gets two messages)."""

    code: str
    name: str
    reached: int  # every message delivered
    waiting: int  # a message still waits or is being sent
    unreachable: int  # blocked the bot, or no chat account left
    failed: int  # the platform refused a message
    no_template: int = 0  # of the unreachable: WhatsApp only, outside its 24-hour window, no template for it
    receipts: tuple[PersonReceipt, ...] = ()  # WhatsApp liaisons, by what WhatsApp reported

    @property
    def liaisons(self) -> int:
        return self.reached + self.waiting + self.unreachable + self.failed


@dataclass(frozen=True)
class PersonReceipt:
    """How far WhatsApp reported one liaison's invitation: sent, delivered, read, failed, or waiting for a reply."""

    name: str
    state: str  # terkirim, diterima, dibaca, gagal, menunggu_balasan


@dataclass(frozen=True)
class BroadcastReport:
    """The broadcast of one campaign per OPD, and the OPDs of the campaign that have no liaison to invite."""

    opds: tuple[OpdReach, ...]
    without_liaison: tuple[str, ...]  # OPD codes

    @property
    def reached(self) -> int:
        return sum(o.reached for o in self.opds)

    @property
    def liaisons(self) -> int:
        return sum(o.liaisons for o in self.opds)

    @property
    def unreachable(self) -> int:
        return sum(o.unreachable for o in self.opds)


async def delivery_report(session: AsyncSession, campaign_id: int) -> BroadcastReport:
    """Per OPD, how many liaisons the invitation reached; in two queries whatever the campaign's size.

    A liaison counts once, by their least delivered message: failed, then unreachable, then waiting, else reached.
    """
    rows = await session.execute(
        select(
            Opd.code,
            Opd.name,
            OutboxMessage.person_id,
            OutboxMessage.status,
            OutboxMessage.last_error,
            OutboxMessage.channel,
            OutboxMessage.receipt,
            Person.display_name,
        )
        .join(OutboxMessage, and_(OutboxMessage.opd_id == Opd.id, OutboxMessage.campaign_id == campaign_id))
        .join(Person, Person.id == OutboxMessage.person_id)
        .where(OutboxMessage.kind.in_(outbox.INVITATION_KINDS))
        .order_by(OutboxMessage.id)
    )
    statuses: dict[tuple[str, str], dict[int, set[str]]] = {}
    receipts: dict[tuple[str, str], dict[int, tuple[str, list[str]]]] = {}
    for code, name, person_id, status, error, channel, receipt, person_name in rows.all():
        seen = statuses.setdefault((code, name), {}).setdefault(person_id, set())
        seen.add(status)
        if status == OutboxStatus.UNREACHABLE.value and error == outbox.NO_WHATSAPP_TEMPLATE:
            seen.add(NO_TEMPLATE)
        if channel == "whatsapp":
            label = _receipt_label(status, receipt)
            receipts.setdefault((code, name), {}).setdefault(person_id, (person_name or "-", []))[1].append(label)
    participants = await session.execute(
        select(Opd.code)
        .join(CampaignOpd, CampaignOpd.opd_id == Opd.id)
        .where(CampaignOpd.campaign_id == campaign_id)
        .order_by(Opd.code)
    )
    invited = {code for code, _ in statuses}
    return BroadcastReport(
        opds=tuple(
            _reach(code, name, per_person, receipts.get((code, name), {}))
            for (code, name), per_person in sorted(statuses.items())
        ),
        without_liaison=tuple(code for code in participants.scalars() if code not in invited),
    )


# A person's WhatsApp messages, least advanced first: the person counts by the one that got least far.
_RECEIPT_ORDER = ("gagal", "menunggu_balasan", "terkirim", "diterima", "dibaca")
NO_TEMPLATE = "no_template"


def _receipt_label(status: str, receipt: str | None) -> str:
    if receipt == "failed" or status == OutboxStatus.FAILED.value:
        return "gagal"
    if status == OutboxStatus.AWAITING_REPLY.value:
        return "menunggu_balasan"
    return {"delivered": "diterima", "read": "dibaca"}.get(receipt or "", "terkirim")


def _reach(
    code: str, name: str, per_person: dict[int, set[str]], receipts: dict[int, tuple[str, list[str]]]
) -> OpdReach:
    counts = {"failed": 0, "unreachable": 0, "waiting": 0, "reached": 0, "no_template": 0}
    for seen in per_person.values():
        if OutboxStatus.FAILED.value in seen:
            counts["failed"] += 1
        elif OutboxStatus.UNREACHABLE.value in seen:
            counts["unreachable"] += 1
            counts["no_template"] += NO_TEMPLATE in seen
        elif seen & set(outbox.OPEN):
            counts["waiting"] += 1
        else:
            counts["reached"] += 1
    people = tuple(
        PersonReceipt(person, min(labels, key=_RECEIPT_ORDER.index))
        for person, labels in sorted(receipts.values(), key=lambda entry: entry[0])
    )
    return OpdReach(code, name, **counts, receipts=people)


async def report_if_settled(session: AsyncSession, campaign_id: int, now: datetime) -> bool:
    """Once no invitation waits any more, the uploader, the Kasi and the Kabid get the delivery report (once).

    Each reader's hint for OPDs without a liaison names what that reader can do: issue a code with `/undang`, or
    (the sekretariat, who may not) look the OPD up with `/opd` and ask an admin or the Kasi for the code.
    """
    if not await outbox.broadcast_settled(session, campaign_id):
        return False
    uploader = await campaigns.mark_broadcast_reported(session, campaign_id, now)
    if uploader is None:  # reported by an earlier run
        return False
    detail = await campaigns.campaign_detail(session, campaign_id)
    report = await delivery_report(session, campaign_id)
    readers = sorted({uploader, *await people.people_with_roles(session, REPORT_READERS)})
    may_invite = await _may_invite_liaisons(session, readers)
    for reader in readers:
        message = Envelope.of(
            "laporan_kirim", "kampanye/laporan_kirim", c=detail, report=report, may_invite=reader in may_invite
        )
        await outbox.enqueue(session, person_id=reader, message=message, now=now, campaign_id=campaign_id)
    return True


async def _may_invite_liaisons(session: AsyncSession, person_ids: list[int]) -> set[int]:
    """Which of these people may issue a liaison's invite code (`/undang KODE_OPD`)."""
    rows = await session.execute(
        select(RoleAssignment.person_id, RoleAssignment.role).where(
            RoleAssignment.person_id.in_(person_ids), RoleAssignment.revoked_at.is_(None)
        )
    )
    roles: dict[int, set[Role]] = {}
    for person_id, role in rows.all():
        roles.setdefault(person_id, set()).add(Role(role))
    return {p for p, held in roles.items() if Role.OPD in issuable_by(frozenset(held))}
