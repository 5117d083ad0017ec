"""`/rekap [#ID]` and the daily recap's buttons: remind the OPDs behind, extend a deadline, forward to the Tim
SPBE, close collection, download the full workbook.

The recap is read in a read unit and its chart drawn in a thread before this update's write transaction begins;
the buttons are one-time actions of the reader, each by the roles of CONTRACT.md, re-checked at the press, and
each business action asks once more before it acts (and is audited by the service that performs it).
The daily job (`jobs/recap_tick.py`) queues the same message and chart through `queue_recap`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation import payloads
from bot.conversation.core import Button, Reply
from bot.conversation.envelope import Document, Envelope
from bot.conversation.handling import Context, Registry, Services
from bot.domain.enums import CampaignState, Role
from bot.errors import DomainError
from bot.services import access, actions, conversations, outbox, recap, recap_chart, reminders
from bot.services.campaign_actions import ACTION_ROLES, CampaignAction
from bot.services.conversations import FlowState
from bot.services.exports.produce import RECAP as WORKBOOK
from bot.services.recap import CampaignRecap
from bot.services.uploads import register_blob
from handlers import deadlines as deadline_handlers
from handlers import exports
from storage.filestore import Blob, FileStore

KIND = "rekap"
CHART_KIND = "rekap_grafik"
EXTEND_FLOW = "rekap_tenggat"
REMINDERS = recap.READERS  # CONTRACT.md: remind from the recap (admin, kasi, kabid)
EXTENDERS = recap.READERS  # extend from the recap (admin, kasi, kabid)
CLOSERS = ACTION_ROLES[CampaignAction.CLOSE_COLLECTION]  # kabid


async def rekap(ctx: Context) -> Reply:
    """The recap of the one collecting campaign (or `#ID`), with its chart and the reader's buttons."""
    recap.require_reader(ctx.actor.roles)
    ref = payloads.campaign_ref(ctx.request.args)
    if ref.words:
        return ctx.reply("rekap/cara")
    async with ctx.services.db.read() as session:
        campaign_id = ref.campaign_id
        if campaign_id is None:
            choices = await recap.recap_campaigns(session)
            if not choices:
                return ctx.reply("rekap/tidak_ada_kegiatan")
            if len(choices) > 1:
                return ctx.reply("rekap/pilih_kegiatan", kegiatan=choices)
            campaign_id = choices[0].campaign_id
        made = await recap.campaign_recap(session, ctx.services.settings, campaign_id, ctx.now)
    chart = await draw_chart(ctx.services.files, made)
    session = await ctx.session()
    await register_blob(session, chart, ctx.now)
    await ctx.send_later(ctx.me(), chart_message(made, chart), campaign_id=made.campaign_id)
    buttons = await recap_buttons(session, ctx.services, made, ctx.me(), ctx.actor.roles, ctx.now)
    return ctx.reply("rekap/rekap", buttons=buttons, r=made)


async def draw_chart(files: FileStore, made: CampaignRecap) -> Blob:
    """The chart as a stored PNG, drawn and written in a thread (never on the event loop)."""

    def draw() -> Blob:
        return files.store_bytes(recap_chart.render_chart(made.title, made.chart))

    return await asyncio.to_thread(draw)


def chart_message(made: CampaignRecap, chart: Blob) -> Envelope:
    name = f"grafik-rekap-{made.campaign_id}-{made.at:%Y%m%d}.png"
    return Envelope.of(CHART_KIND, "rekap/grafik", document=Document(chart.sha256, name), r=made.for_message())


async def recap_buttons(
    session: AsyncSession,
    services: Services,
    made: CampaignRecap,
    person_id: int,
    roles: Collection[Role],
    now: datetime,
) -> list[list[Button]]:
    """The actions this person may take from the recap (the roles are checked again at the press)."""
    held = frozenset(roles)
    campaign = made.campaign_id
    collecting = made.state == CampaignState.OPEN
    wanted: list[tuple[str, str, frozenset[Role], bool]] = [
        ("tombol/ingatkan_tertinggal", "rkp_remind", REMINDERS, collecting and bool(made.behind)),
        ("tombol/perpanjang_tenggat", "rkp_extend", EXTENDERS, collecting),
        ("tombol/teruskan_tim", "rkp_forward", recap.FORWARDERS, True),
        ("tombol/tutup_pengumpulan", "kmp_close", CLOSERS, collecting),
    ]
    rows: list[list[Button]] = []
    for label, kind, allowed, shown in wanted:
        if shown and held & allowed:
            button = await actions.action_button(
                session, services.label(label), kind=kind, person_id=person_id, now=now, campaign=campaign
            )
            rows.append([button])
    if held & access.EXPORTERS:
        rows.append([Button(services.label("tombol/unduh_rekap"), f"rkp:x:{campaign}")])
    return rows


async def queue_recap(
    session: AsyncSession,
    services: Services,
    made: CampaignRecap,
    chart: Blob | None,
    person_id: int,
    roles: Collection[Role],
    now: datetime,
    *,
    template: str = "rekap/rekap",
    **params: Any,
) -> None:
    """The recap (with the person's buttons) and its chart, queued for one person in the caller's transaction."""
    buttons = await recap_buttons(session, services, made, person_id, roles, now)
    message = Envelope.of(KIND, template, buttons=buttons, r=made.for_message(), **params)
    await outbox.enqueue(session, person_id=person_id, message=message, now=now, campaign_id=made.campaign_id)
    if chart is not None:
        await outbox.enqueue(
            session, person_id=person_id, message=chart_message(made, chart), now=now, campaign_id=made.campaign_id
        )


# -- the buttons -------------------------------------------------------------------------------------------------


async def _confirm(ctx: Context, kind: str, label: str, template: str, campaign_id: int, **params: Any) -> Reply:
    button = await actions.action_button(
        await ctx.session(), ctx.label(label), kind=kind, person_id=ctx.me(), now=ctx.now, campaign=campaign_id
    )
    return ctx.reply(template, buttons=[[button]], **params)


async def _current(ctx: Context, params: dict[str, Any]) -> CampaignRecap:
    return await recap.campaign_recap(await ctx.session(), ctx.services.settings, int(params["campaign"]), ctx.now)


async def remind_action(ctx: Context, params: dict[str, Any]) -> Reply:
    """ "Ingatkan yang tertinggal" asks once more, saying how many OPDs would be reminded."""
    made = await _current(ctx, params)
    behind = len(made.behind) + made.behind_more
    if made.state != CampaignState.OPEN or not behind:
        raise DomainError("rekap/tidak_ada_yang_tertinggal", id=made.campaign_id)
    return await _confirm(
        ctx, "rkp_remind_yes", "tombol/ya_ingatkan", "rekap/ingatkan_konfirmasi", made.campaign_id, r=made, n=behind
    )


async def remind_confirmed_action(ctx: Context, params: dict[str, Any]) -> Reply:
    result = await reminders.remind_now(
        await ctx.session(),
        ctx.services.settings,
        None,
        acting=ctx.acting(recap.reading_role(ctx.actor.roles)),
        now=ctx.now,
        campaign_id=int(params["campaign"]),
        allowed=REMINDERS,
    )
    return ctx.reply("pengingat/terkirim", r=result)


async def forward_action(ctx: Context, params: dict[str, Any]) -> Reply:
    """ "Teruskan ke Tim SPBE" asks once more (a closed campaign then counts as recapped)."""
    made = await _current(ctx, params)
    return await _confirm(
        ctx, "rkp_forward_yes", "tombol/ya_teruskan", "rekap/teruskan_konfirmasi", made.campaign_id, r=made
    )


async def forward_confirmed_action(ctx: Context, params: dict[str, Any]) -> Reply:
    """The recap as it stands now goes to every Tim SPBE person, without buttons; the chart goes with it."""
    campaign_id = int(params["campaign"])
    async with ctx.services.db.read() as session:
        made = await recap.campaign_recap(session, ctx.services.settings, campaign_id, ctx.now)
    chart = await draw_chart(ctx.services.files, made)
    session = await ctx.session()
    acting = ctx.acting(recap.forwarding_role(ctx.actor.roles))
    forwarded = await recap.forward_to_tim(session, campaign_id, acting=acting, now=ctx.now)
    await register_blob(session, chart, ctx.now)
    sender = ctx.actor.display_name
    for person_id in forwarded.tim:
        await queue_recap(
            session, ctx.services, made, chart, person_id, (), ctx.now, template="rekap/untuk_tim", pengirim=sender
        )
    return ctx.reply("rekap/diteruskan", f=forwarded)


async def extend_action(ctx: Context, params: dict[str, Any]) -> Reply:
    """ "Perpanjang tenggat": which OPD (or all), until when and why, typed as `/perpanjang` takes it."""
    campaign_id = int(params["campaign"])
    await conversations.begin(
        await ctx.session(),
        ctx.request.channel,
        ctx.request.chat_id,
        person_id=ctx.me(),
        flow=EXTEND_FLOW,
        step="tenggat",
        data={"campaign": campaign_id},
        now=ctx.now,
    )
    return ctx.reply("rekap/tanya_tenggat")


async def extend_flow(ctx: Context, state: FlowState) -> Reply:
    """The typed OPD, date and reason, echoed in words with a confirmation button (nothing is recorded yet)."""
    wanted = payloads.parse_extension((ctx.request.text or "").split(), ctx.services.settings.timezone)
    if wanted is None:
        return ctx.reply("rekap/tanya_tenggat")
    session = await ctx.session()
    await conversations.finish(session, ctx.request.channel, ctx.request.chat_id)
    button = await actions.action_button(
        session,
        ctx.label("tombol/ya_perpanjang"),
        kind="rkp_extend_yes",
        person_id=ctx.me(),
        now=ctx.now,
        campaign=int(state.data["campaign"]),
        opd=wanted.opd_code,
        deadline=wanted.deadline.isoformat(),
        reason=wanted.reason,
    )
    return ctx.reply("rekap/tenggat_konfirmasi", buttons=[[button]], w=wanted)


async def extend_confirmed_action(ctx: Context, params: dict[str, Any]) -> Reply:
    deadline = datetime.fromisoformat(str(params["deadline"]))
    opd = params.get("opd")
    return await deadline_handlers.record(
        ctx, int(params["campaign"]), str(opd) if opd else None, deadline, str(params["reason"])
    )


async def workbook_button(ctx: Context) -> Reply:
    """ "Unduh rekap lengkap" (`rkp:x:ID`): the recap workbook of `/ekspor`, as that command sends it.

    A plain button, not a one-time action: downloading changes nothing, and a press begins no write transaction
    before the workbook is built (an action's press does), so no lock is held while openpyxl writes.
    """
    campaign_id = payloads.parse_recap_workbook(ctx.request.payload or "")
    recap.require_exporter(ctx.actor.roles)
    if campaign_id is None:
        raise DomainError("umum/tombol_kedaluwarsa")
    return await exports.deliver(ctx, campaign_id, WORKBOOK)


def register(registry_: Registry) -> None:
    registry_.command("rekap", rekap)
    registry_.flow(EXTEND_FLOW, extend_flow)
    registry_.action("rkp_remind", remind_action, roles=REMINDERS)
    registry_.action("rkp_remind_yes", remind_confirmed_action, roles=REMINDERS)
    registry_.action("rkp_extend", extend_action, roles=EXTENDERS)
    registry_.action("rkp_extend_yes", extend_confirmed_action, roles=EXTENDERS)
    registry_.action("rkp_forward", forward_action, roles=recap.FORWARDERS)
    registry_.action("rkp_forward_yes", forward_confirmed_action, roles=recap.FORWARDERS)
    registry_.button("rkp", workbook_button)
