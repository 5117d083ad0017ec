"""`/umumkan [#ID]`: an announcement to the liaisons of a campaign's OPDs (admin, Kasi).

A flow: the text, optionally one document (accepted only here), the OPDs (typed codes or "Semua OPD"), then the
confirmation with the count and a one-time "Kirim pengumuman". Buttons use `umm:` (bot.conversation.payloads.
parse_announcement); the messages go through the outbox and the sender gets the delivery report when all settled.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from bot.conversation import payloads
from bot.conversation.core import Button, Reply
from bot.conversation.handling import Context, Registry
from bot.domain.enums import Role
from bot.errors import DomainError
from bot.services import actions, announcements, conversations, uploads
from bot.services.announcements import ANNOUNCERS, AnnouncementCampaign
from bot.services.conversations import FlowState
from storage.filestore import FileTooLargeError

FLOW = "umumkan"
SEND = "umm_kirim"


class Step(StrEnum):
    TEXT = "teks"
    DOCUMENT = "lampiran"
    OPDS = "opd"
    CONFIRM = "konfirmasi"


@dataclass(frozen=True)
class Draft:
    """What the flow has collected so far; kept as JSON between messages."""

    campaign_id: int
    text: str = ""
    document: tuple[str, str] | None = None  # sha256, file name
    opds: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign_id,
            "text": self.text,
            "document": list(self.document) if self.document else None,
            "opds": list(self.opds),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Draft:
        document = data.get("document")
        return cls(
            int(data["campaign"]),
            str(data.get("text") or ""),
            (str(document[0]), str(document[1])) if document else None,
            tuple(str(c) for c in data.get("opds") or ()),
        )


def _role(ctx: Context) -> Role | None:
    """The role an announcement is made in (admin, then Kasi)."""
    return next((r for r in (Role.ADMIN, Role.KASI) if r in ctx.actor.roles), None)


async def umumkan(ctx: Context) -> Reply:
    """`/umumkan [#ID]`: the flow for the campaign named, the only one running, or a choice of campaigns."""
    ref = payloads.campaign_ref(ctx.request.args)
    if ref.words:
        return ctx.reply("pengumuman/cara")
    if ref.campaign_id is not None:
        return await _begin(ctx, ref.campaign_id)
    running = await announcements.announceable_campaigns(await ctx.session())
    if not running:
        return ctx.reply("pengumuman/tidak_ada_kegiatan")
    if len(running) > 1:
        buttons = ctx.campaign_buttons(running, lambda cid: f"umm:k:{cid}")
        return ctx.reply("pengumuman/pilih_kegiatan", buttons=buttons, kegiatan=running)
    return await _begin(ctx, running[0].campaign_id)


async def _begin(ctx: Context, campaign_id: int) -> Reply:
    session = await ctx.session()
    campaign = await announcements.require_campaign(session, campaign_id)
    await conversations.begin(
        session,
        ctx.request.channel,
        ctx.request.chat_id,
        person_id=ctx.me(),
        flow=FLOW,
        step=Step.TEXT,
        data=Draft(campaign.campaign_id).to_json(),
        now=ctx.now,
    )
    return ctx.reply("pengumuman/tanya_teks", judul=campaign.title)


async def announcement_button(ctx: Context) -> Reply:
    """The `umm:` buttons: which campaign, no document, every OPD; only inside the flow they belong to."""
    if not ANNOUNCERS.intersection(ctx.actor.roles):
        raise DomainError("umum/tombol_bukan_untuk_anda")
    press = payloads.parse_announcement(ctx.request.payload or "")
    if press is None:
        raise DomainError("umum/tombol_kedaluwarsa")
    if press.verb == "campaign" and press.id is not None:
        return await _begin(ctx, press.id)
    state = await conversations.current(await ctx.session(), ctx.request.channel, ctx.request.chat_id)
    wanted = Step.DOCUMENT if press.verb == "no_document" else Step.OPDS
    if state is None or state.flow != FLOW or state.step != wanted or state.person_id != ctx.actor.person_id:
        raise DomainError("umum/tombol_kedaluwarsa")
    if press.verb == "no_document":
        return await _ask_opds(ctx, Draft.from_json(state.data))
    return await _choose(ctx, Draft.from_json(state.data), [announcements.ALL_WORD])


async def flow(ctx: Context, state: FlowState) -> Reply:
    """The text, the document (or its skip button), the OPDs: one question at a time."""
    draft = Draft.from_json(state.data)
    text = (ctx.request.text or "").strip()
    if state.step == Step.TEXT:
        if ctx.request.attachments:
            return ctx.reply("pengumuman/teks_dulu")
        draft = replace(draft, text=announcements.clean_text(text))
        await _advance(ctx, Step.DOCUMENT, draft)
        buttons = [[Button(ctx.label("tombol/tanpa_lampiran"), "umm:l")]]
        return ctx.reply("pengumuman/tanya_lampiran", buttons=buttons)
    if state.step == Step.DOCUMENT:
        if not ctx.request.attachments:
            return ctx.reply(
                "pengumuman/tunggu_lampiran", buttons=[[Button(ctx.label("tombol/tanpa_lampiran"), "umm:l")]]
            )
        announcements.clean_text(draft.text, with_document=True)  # refused before the file is fetched
        document = await _document(ctx)
        return await _ask_opds(ctx, replace(draft, document=document))
    if state.step in (Step.OPDS, Step.CONFIRM):
        if ctx.request.attachments:
            return ctx.reply("pengumuman/lampiran_sudah_ada")
        return await _choose(ctx, draft, text.replace(",", " ").split())
    raise DomainError("umum/tombol_kedaluwarsa")


async def _document(ctx: Context) -> tuple[str, str]:
    """The one attachment, judged as the intake judges evidence (size, content, name), and kept in the store."""
    attachment = ctx.request.attachments[0]
    name = uploads.clean_file_name(attachment.file_name, fallback="lampiran")
    limit_mb = ctx.services.settings.max_file_mb(ctx.request.channel)
    if attachment.size is not None and attachment.size > limit_mb * 1024 * 1024:
        raise DomainError("pengumuman/lampiran_terlalu_besar", nama=name, batas=limit_mb)
    try:
        staged = await attachment.fetch(ctx.services.files)
    except FileTooLargeError:
        raise DomainError("pengumuman/lampiran_terlalu_besar", nama=name, batas=limit_mb) from None
    blob = uploads.admit_checked(ctx.services.files, staged, name)
    await announcements.keep_document(await ctx.session(), blob, ctx.now)
    return blob.sha256, name


async def _ask_opds(ctx: Context, draft: Draft) -> Reply:
    await _advance(ctx, Step.OPDS, draft)
    campaign = await announcements.require_campaign(await ctx.session(), draft.campaign_id)
    buttons = [[Button(ctx.label("tombol/semua_opd_kegiatan", jumlah=len(campaign.opd_codes)), "umm:s")]]
    return ctx.reply("pengumuman/tanya_opd", buttons=buttons, c=campaign, lampiran=_name(draft))


async def _choose(ctx: Context, draft: Draft, words: list[str]) -> Reply:
    """The OPDs chosen: the confirmation with how many liaisons it reaches (none: refused, nothing sent)."""
    session = await ctx.session()
    campaign: AnnouncementCampaign = await announcements.require_campaign(session, draft.campaign_id)
    codes = announcements.chosen_opds(campaign, words)
    reach = await announcements.audience(session, campaign.campaign_id, codes)
    if not reach.liaisons:
        return ctx.reply("pengumuman/tanpa_penerima", opd=", ".join(reach.without_liaison) or "-")
    draft = replace(draft, opds=codes)
    await _advance(ctx, Step.CONFIRM, draft)
    button = await actions.action_button(
        session,
        ctx.label("tombol/kirim_pengumuman"),
        kind=SEND,
        person_id=ctx.me(),
        now=ctx.now,
        campaign=draft.campaign_id,
    )
    return ctx.reply(
        "pengumuman/konfirmasi", buttons=[[button]], c=campaign, teks=draft.text, lampiran=_name(draft), reach=reach
    )


def _name(draft: Draft) -> str | None:
    return draft.document[1] if draft.document else None


async def _advance(ctx: Context, step: Step, draft: Draft) -> None:
    await conversations.advance(
        await ctx.session(), ctx.request.channel, ctx.request.chat_id, step=step, data=draft.to_json(), now=ctx.now
    )


async def send_action(ctx: Context, params: dict[str, Any]) -> Reply:
    """ "Kirim pengumuman": recorded, queued for every liaison of the chosen OPDs, audited."""
    session = await ctx.session()
    state = await conversations.current(session, ctx.request.channel, ctx.request.chat_id)
    if state is None or state.flow != FLOW or state.step != Step.CONFIRM:
        raise DomainError("umum/tombol_kedaluwarsa")  # /batal came first, or the flow started again
    draft = Draft.from_json(state.data)
    if draft.campaign_id != int(params["campaign"]):
        raise DomainError("umum/tombol_kedaluwarsa")
    announcement_id, reach = await announcements.announce(
        session,
        draft.campaign_id,
        text=draft.text,
        opd_codes=draft.opds,
        document=draft.document,
        sender_name=ctx.actor.display_name or "-",
        acting=ctx.acting(_role(ctx)),
        now=ctx.now,
    )
    await conversations.finish(session, ctx.request.channel, ctx.request.chat_id)
    return ctx.reply("pengumuman/terkirim", id=announcement_id, reach=reach)


def register(registry: Registry) -> None:
    registry.command("umumkan", umumkan)
    registry.button("umm", announcement_button)
    registry.flow(FLOW, flow)
    registry.action(SEND, send_action, roles=ANNOUNCERS)
