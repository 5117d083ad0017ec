"""The broadcast: each liaison of each OPD of an open campaign gets the signed letter and their own data request.

Use cases of their own (the "Kirim undangan" button and a liaison's registration both call them), taking a session
and plain values, so the benchmark and the crash tests queue a broadcast exactly as the button does. The messages
are queued in the caller's transaction as envelopes (rendered when they go out); the outbox dispatcher sends them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation.envelope import Document, Envelope
from bot.services import campaigns, outbox
from bot.services.campaigns import InvitationTarget


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
