"""`/perpanjang OPD_CODE|semua TANGGAL [JAM] ALASAN`: a later deadline for one OPD or all, its liaisons told."""

from __future__ import annotations

from datetime import datetime

from bot.conversation import payloads
from bot.conversation.core import Reply
from bot.conversation.envelope import Envelope
from bot.conversation.handling import Context, Registry
from bot.services import deadlines

KIND = "perpanjangan"


async def perpanjang(ctx: Context) -> Reply:
    """Record the extension (the service checks role, date and campaign) and queue the liaisons' notice."""
    words = payloads.campaign_ref(ctx.request.args)
    wanted = payloads.parse_extension(words.words, ctx.services.settings.timezone)
    if wanted is None:
        return ctx.reply("tenggat/cara")
    session = await ctx.session()
    campaign_id = words.campaign_id
    if campaign_id is None:
        running = await deadlines.extendable_campaigns(session)
        if len(running) != 1:
            return ctx.reply("tenggat/sebutkan_kegiatan", kegiatan=running)
        campaign_id = running[0].campaign_id
    return await record(ctx, campaign_id, wanted.opd_code, wanted.deadline, wanted.reason)


async def record(ctx: Context, campaign_id: int, opd_code: str | None, deadline: datetime, reason: str) -> Reply:
    """Extend (also from the recap's "Perpanjang tenggat"), tell the liaisons, say what was recorded."""
    session = await ctx.session()
    extension = await deadlines.extend(
        session,
        campaign_id,
        opd_code,
        deadline,
        reason,
        acting=ctx.acting(deadlines.extending_role(ctx.actor.roles)),
        now=ctx.now,
    )
    notice = Envelope.of(KIND, "tenggat/diperpanjang", e=extension)
    for liaison in extension.liaisons:
        await ctx.send_later(liaison, notice, campaign_id=extension.campaign_id)
    return ctx.reply("tenggat/tercatat", e=extension, jumlah=len(extension.liaisons))


def register(registry_: Registry) -> None:
    registry_.command("perpanjang", perpanjang)
