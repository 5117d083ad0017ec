"""Review in chat: `/tinjau` walks the queue (files, expected evidence, "Terima" / "Minta revisi"), `/buka`.

Decisions are one-time actions; a revision request waits for the reviewer's typed note (a flow), with an
optional reason from the short list as buttons. The services check role, campaign and state again.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from bot.conversation import payloads
from bot.conversation.core import Button, Reply
from bot.conversation.handling import Context, Registry
from bot.domain.enums import ReviewDecision, ReviewReason, Role
from bot.errors import DomainError
from bot.services import actions, conversations, evidence, overview, review
from bot.services.conversations import FlowState
from handlers.progress import file_replies

REVIEW_NOTE = "catatan_tinjauan"
REVIEWER_ROLES = review.REVIEWERS


class Step(StrEnum):
    NOTE = "catatan"


async def tinjau(ctx: Context) -> Reply | list[Reply]:
    """The oldest waiting version nobody else is looking at: its files, then what it should hold and the buttons."""
    return await _next(ctx, payloads.campaign_ref(ctx.request.args).campaign_id)


async def _next(ctx: Context, campaign_id: int | None) -> Reply | list[Reply]:
    session = await ctx.session()
    if campaign_id is None:
        running = await overview.collecting_campaigns(session)
        if not running:
            return ctx.reply("unggah/tidak_ada_kegiatan_berjalan")
        if len(running) > 1:
            return ctx.reply("tinjau/pilih_kegiatan", kegiatan=running)
        campaign_id = running[0].campaign_id
    acting = ctx.acting(_reviewer_role(ctx))
    item = await review.next_for_review(session, campaign_id, acting=acting, now=ctx.now)
    if item is None:
        return ctx.reply("tinjau/antrean_kosong", id=campaign_id)
    person_id = acting.person_id
    assert person_id is not None  # next_for_review refuses anyone unregistered
    buttons = [
        [
            await actions.action_button(
                session,
                ctx.label("tombol/terima"),
                kind="tnj_accept",
                person_id=person_id,
                now=ctx.now,
                campaign=campaign_id,
                version=item.version_id,
            ),
            await actions.action_button(
                session,
                ctx.label("tombol/minta_revisi"),
                kind="tnj_revise",
                person_id=person_id,
                now=ctx.now,
                campaign=campaign_id,
                version=item.version_id,
            ),
        ]
    ]
    waiting = await review.waiting_count(session, campaign_id)
    # The automatic check's findings beside the expected evidence (None while the files are still being read).
    found = await evidence.findings_of(session, item.version_id)
    checking = ctx.services.settings.evidence_workers > 0
    card = ctx.reply("tinjau/versi", buttons=buttons, v=item, antrean=waiting, temuan=found, periksa=checking)
    return [*file_replies(item.files), card]


def _reviewer_role(ctx: Context) -> Role | None:
    return review.reviewing_role(ctx.actor.roles)


async def accept_action(ctx: Context, params: dict[str, Any]) -> Reply:
    decided = await review.decide(
        await ctx.session(),
        int(params["campaign"]),
        int(params["version"]),
        ReviewDecision.ACCEPTED,
        note=None,
        reason=None,
        acting=ctx.acting(_reviewer_role(ctx)),
        now=ctx.now,
    )
    return ctx.reply("tinjau/sudah_diterima", d=decided)


async def revise_action(ctx: Context, params: dict[str, Any]) -> Reply:
    """The note comes as the reviewer's next message; a reason button may come before it."""
    person_id = ctx.actor.person_id
    assert person_id is not None  # take_action authorized the presser
    await conversations.begin(
        await ctx.session(),
        ctx.request.channel,
        ctx.request.chat_id,
        person_id=person_id,
        flow=REVIEW_NOTE,
        step=Step.NOTE,
        data={"campaign": int(params["campaign"]), "version": int(params["version"]), "reason": None},
        now=ctx.now,
    )
    buttons = [[Button(ctx.label("tombol/alasan_revisi", alasan=r.value), f"tnj:a:{r.value}")] for r in ReviewReason]
    return ctx.reply("tinjau/tanya_catatan", buttons=buttons)


async def review_button(ctx: Context) -> Reply | list[Reply]:
    """`tnj:q:ID` (the digest's button: the queue of that campaign) or `tnj:a:REASON` (see `reason_button`)."""
    campaign_id = payloads.parse_review_queue(ctx.request.payload or "")
    if campaign_id is not None:
        return await _next(ctx, campaign_id)
    return await reason_button(ctx)


async def reason_button(ctx: Context) -> Reply:
    """`tnj:a:REASON` while the chat waits for a revision note: the reason is kept with the note to come."""
    reason = payloads.parse_review_reason(ctx.request.payload or "")
    if reason is None:
        raise DomainError("umum/tombol_kedaluwarsa")
    session = await ctx.session()
    state = await conversations.current(session, ctx.request.channel, ctx.request.chat_id)
    if state is None or state.flow != REVIEW_NOTE or state.person_id != ctx.actor.person_id:
        raise DomainError("umum/tombol_kedaluwarsa")
    review.require_reviewer(ctx.acting(_reviewer_role(ctx)))
    await conversations.advance(
        session,
        ctx.request.channel,
        ctx.request.chat_id,
        step=Step.NOTE,
        data={**state.data, "reason": reason.value},
        now=ctx.now,
    )
    return ctx.reply("tinjau/alasan_dipilih", alasan=reason.value)


async def note_flow(ctx: Context, state: FlowState) -> Reply:
    """The reviewer's note: the version goes back to the OPD, whose liaisons are told."""
    note = (ctx.request.text or "").strip()
    if not note:
        return ctx.reply("tinjau/catatan_kosong")
    session = await ctx.session()
    reason = state.data.get("reason")
    decided = await review.decide(
        session,
        int(state.data["campaign"]),
        int(state.data["version"]),
        ReviewDecision.REVISION_REQUESTED,
        note=note,
        reason=ReviewReason(reason) if reason else None,
        acting=ctx.acting(_reviewer_role(ctx)),
        now=ctx.now,
    )
    await conversations.finish(session, ctx.request.channel, ctx.request.chat_id)
    return ctx.reply("tinjau/sudah_dikembalikan", d=decided)


async def buka(ctx: Context) -> Reply:
    """`/buka KODE_OPD KODE alasan [#ID]`: an accepted item takes new versions again."""
    words = payloads.campaign_ref(ctx.request.args)
    if len(words.words) < 3:
        return ctx.reply("tinjau/cara_buka")
    opd_code, item_code, *reason = words.words
    session = await ctx.session()
    campaign_id = words.campaign_id
    if campaign_id is None:
        running = await overview.collecting_campaigns(session)
        if len(running) != 1:
            return ctx.reply("tinjau/cara_buka")
        campaign_id = running[0].campaign_id
    decided = await review.reopen(
        session,
        campaign_id,
        opd_code,
        item_code,
        " ".join(reason),
        acting=ctx.acting(_reviewer_role(ctx)),
        now=ctx.now,
    )
    return ctx.reply("tinjau/sudah_dibuka", d=decided)


def register(registry_: Registry) -> None:
    registry_.command("tinjau", tinjau)
    registry_.command("buka", buka)
    registry_.button("tnj", review_button)
    registry_.flow(REVIEW_NOTE, note_flow)
    registry_.action("tnj_accept", accept_action, roles=REVIEWER_ROLES)
    registry_.action("tnj_revise", revise_action, roles=REVIEWER_ROLES)
