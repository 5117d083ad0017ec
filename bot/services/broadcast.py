"""The broadcast: each liaison of each OPD of an open campaign gets the signed letter and their own data request.

Use cases of their own (the "Kirim undangan" button and a liaison's registration both call them), taking a session
and plain values, so the benchmark and the crash tests queue a broadcast exactly as the button does. The messages
are queued in the caller's transaction; the outbox dispatcher sends them. They take the renderer because an outbox
row still holds its rendered text.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation.core import OutgoingDocument, Reply
from bot.conversation.templating import Renderer
from bot.services import campaigns, outbox
from bot.services.campaigns import InvitationTarget


async def invite_all(session: AsyncSession, renderer: Renderer, campaign_id: int, now: datetime) -> int:
    """Queue the invitations of a campaign that just opened; returns how many liaisons get them."""
    targets = await campaigns.invitation_targets(session, campaign_id)
    for target in targets:
        await _invite(session, renderer, target, now)
    return len(targets)


async def invite_new_liaison(
    session: AsyncSession, renderer: Renderer, person_id: int, opd_code: str, now: datetime
) -> None:
    """A liaison registering for an OPD of an open campaign receives what the others received."""
    for campaign_id in await campaigns.open_campaigns_of(session, opd_code):
        for target in await campaigns.invitation_targets(session, campaign_id, person_id=person_id, opd_code=opd_code):
            await _invite(session, renderer, target, now)


async def _invite(session: AsyncSession, renderer: Renderer, target: InvitationTarget, now: datetime) -> None:
    messages = []
    if target.letter is not None:
        sha256, name = target.letter
        caption = renderer.render("kampanye/undangan_keterangan", t=target)
        messages.append(("undangan", Reply(caption, document=OutgoingDocument(sha256, name, caption))))
    messages.append(("permintaan_data", Reply(renderer.render("kampanye/permintaan_data", t=target))))
    for kind, reply in messages:
        await outbox.enqueue(
            session,
            person_id=target.person_id,
            kind=kind,
            reply=reply,
            now=now,
            campaign_id=target.campaign_id,
            opd_id=target.opd_id,
        )
