"""`/ba [#ID]` (admin, Kasi): the Berita Acara as a Word document; `/selesai [#ID]` (Kasi): finalize the campaign.

The signed BA comes in the flow of its button on `/kegiatan #ID` (handlers/campaigns.py). The BA is rendered off
the event loop after a read unit and before this update's write transaction (as `/ekspor` does), then queued as a
document through the outbox.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bot.conversation import payloads
from bot.conversation.core import PAGE_SIZE, Reply
from bot.conversation.envelope import Document, Envelope
from bot.conversation.handling import Context, Registry
from bot.domain.enums import Role
from bot.services import finalization
from bot.services.exports import ba as ba_export

Chooser = Callable[[Any], Awaitable[list[finalization.CampaignChoice]]]


async def _campaign(ctx: Context, command: str, choose: Chooser) -> int | Reply:
    """The `#ID` given, else the only campaign the command accepts; otherwise the list to choose from."""
    ref = payloads.campaign_ref(ctx.request.args)
    if ref.campaign_id is not None:
        return ref.campaign_id
    async with ctx.services.db.read() as session:
        choices = await choose(session)
    if not choices:
        return ctx.reply("ba/tidak_ada_kegiatan", perintah=command)
    if len(choices) > 1:
        return ctx.reply("ba/pilih_kegiatan", kegiatan=choices[:PAGE_SIZE], perintah=command)
    return choices[0].campaign_id


async def ba(ctx: Context) -> Reply:
    """Render the BA and queue it for the sender."""
    chosen = await _campaign(ctx, "ba", finalization.ba_campaigns)
    if isinstance(chosen, Reply):
        return chosen
    services = ctx.services
    built, blob = await ba_export.ba_for_chat(services.db, services.files, services.settings, chosen, ctx.now)
    session = await ctx.session()
    role = Role.KASI if Role.KASI in ctx.actor.roles else Role.ADMIN
    await ba_export.record_chat_ba(session, built, blob, acting=ctx.acting(role), now=ctx.now)
    document = Document(blob.sha256, built.name)
    message = Envelope.of("ba", "ba/dokumen", document=document, judul=built.title, id=chosen, dibuat=ctx.now)
    await ctx.send_later(ctx.me(), message, campaign_id=chosen)
    return ctx.reply("ba/disiapkan", judul=built.title, id=chosen, indeks=built.index, predikat=built.predicate)


async def selesai(ctx: Context) -> Reply:
    """The Kasi finalizes the campaign; every Kabid is told through the outbox."""
    chosen = await _campaign(ctx, "selesai", finalization.finalizable_campaigns)
    if isinstance(chosen, Reply):
        return chosen
    done = await finalization.finalize(await ctx.session(), chosen, acting=ctx.acting(Role.KASI), now=ctx.now)
    for kabid in done.kabids:
        await ctx.notify(
            kabid,
            "selesai/untuk_kabid",
            kind="selesai",
            judul=done.title,
            id=done.campaign_id,
            kasi=ctx.actor.display_name,
        )
    return ctx.reply("selesai/diselesaikan", judul=done.title, id=done.campaign_id)


def register(registry: Registry) -> None:
    registry.command("ba", ba)
    registry.command("selesai", selesai)
