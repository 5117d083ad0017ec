"""`/ekspor [paket] [#ID]`: the recap workbook (admin, Kasi, Kabid) or the evidence package (admins) in chat.

The file is built off the event loop, after a read unit and before this update's write transaction begins (no
lock is held while it is written); it then goes out as a document through the outbox, or, above what the
channel may send, stays on the server and the reply says where.
"""

from __future__ import annotations

from bot.conversation import payloads
from bot.conversation.core import PAGE_SIZE, Reply
from bot.conversation.envelope import Document, Envelope
from bot.conversation.handling import Context, Registry
from bot.services import access
from bot.services.exports import produce


async def ekspor(ctx: Context) -> Reply:
    """Build the export the words ask for and queue it for the sender (or say where it is kept)."""
    ref = payloads.campaign_ref(ctx.request.args)
    kind = produce.kind_of(ref.words)
    if kind is None:
        return ctx.reply("ekspor/cara", paket=bool(ctx.actor.roles & access.PACKAGE_EXPORTERS))
    if kind == produce.PACKAGE:
        access.require_package_exporter(ctx.actor)
    campaign_id = ref.campaign_id
    if campaign_id is None:
        async with ctx.services.db.read() as session:
            choices = await produce.exportable_campaigns(session)
        if not choices:
            return ctx.reply("ekspor/tidak_ada_kegiatan")
        if len(choices) > 1:
            return ctx.reply("ekspor/pilih_kegiatan", kegiatan=choices[:PAGE_SIZE], paket=kind == produce.PACKAGE)
        campaign_id = choices[0].campaign_id
    return await deliver(ctx, campaign_id, kind)


async def deliver(ctx: Context, campaign_id: int, kind: str) -> Reply:
    """Build the export of `campaign_id` and queue it for the sender (also the recap's "Unduh rekap lengkap")."""
    services = ctx.services
    made = await produce.for_chat(
        services.db, services.files, services.settings, campaign_id, kind, ctx.request.channel, ctx.now
    )
    session = await ctx.session()
    await produce.record_chat_export(session, made, acting=ctx.acting(access.exporting_role(ctx.actor)), now=ctx.now)
    if made.blob is None:
        return ctx.reply("ekspor/di_server", e=made.built, batas=made.limit or 0, lokasi=str(made.server_path))
    document = Document(made.blob.sha256, made.name)
    await ctx.send_later(ctx.me(), Envelope.of("ekspor", "ekspor/dokumen", document=document, e=made.built))
    return ctx.reply("ekspor/disiapkan", e=made.built)


def register(registry: Registry) -> None:
    registry.command("ekspor", ekspor)
