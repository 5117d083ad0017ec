"""`/rapat`: the Tim SPBE's coordination meeting (SOP step 5) — scheduling, invitations with RSVP, the organiser's list.

Scheduling is a flow (campaign, date and time, place, agenda, invitees, confirmation). Invitations go through the
outbox (kind `rapat`) with three one-time buttons per invitee — Hadir / Tidak hadir / Diwakilkan — that name each
other, so one answer uses them all; the reply offers fresh buttons to change it. Read-only buttons use `rpt:`
(see bot.conversation.payloads.parse_meeting); everything that changes a meeting is a one-time action.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation import payloads
from bot.conversation.core import Button, Reply
from bot.conversation.envelope import Envelope
from bot.conversation.handling import Context, Registry, Services
from bot.dates import DateParseError, parse_moment, parse_time
from bot.domain.enums import MeetingState, Role, Rsvp
from bot.errors import DomainError
from bot.services import actions, conversations, meetings
from bot.services.conversations import FlowState
from bot.services.meetings import MeetingView

KIND = "rapat"
SCHEDULE, RESCHEDULE, REPRESENTATIVE, TIMES = "rapat", "rapat_ubah", "rapat_wakil", "rapat_waktu"
EVERY_ROLE = frozenset(Role)  # an invitee may hold any role; the service checks they are invited
RSVP_ACTIONS = {Rsvp.HADIR: "rpt_hadir", Rsvp.TIDAK_HADIR: "rpt_tidak", Rsvp.DIWAKILKAN: "rpt_wakil"}
RSVP_LABELS = {
    Rsvp.HADIR: "tombol/rsvp_hadir",
    Rsvp.TIDAK_HADIR: "tombol/rsvp_tidak_hadir",
    Rsvp.DIWAKILKAN: "tombol/rsvp_diwakilkan",
}


class Step(StrEnum):
    TIME = "waktu"
    PLACE = "tempat"
    AGENDA = "agenda"
    INVITEES = "undangan"
    CONFIRM = "konfirmasi"
    NAME = "nama"  # the representative's name


@dataclass(frozen=True)
class Draft:
    """What the scheduling flow has collected so far; kept as JSON between messages."""

    campaign_id: int
    title: str
    starts_at: datetime | None = None
    place: str | None = None
    agenda: str | None = None
    invitees: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign_id,
            "title": self.title,
            "starts": self.starts_at.isoformat() if self.starts_at else None,
            "place": self.place,
            "agenda": self.agenda,
            "invitees": list(self.invitees),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Draft:
        starts = data.get("starts")
        return cls(
            int(data["campaign"]),
            str(data.get("title", "")),
            datetime.fromisoformat(starts) if starts else None,
            data.get("place"),
            data.get("agenda"),
            tuple(int(p) for p in data.get("invitees") or ()),
        )


# -- /rapat and its read-only buttons -----------------------------------------------------------------------------


async def rapat(ctx: Context) -> Reply:
    """`/rapat [#ID]`: the campaign's meeting with its attendance list, or the scheduling flow when it has none."""
    ref = payloads.campaign_ref(ctx.request.args)
    if ref.words:
        return ctx.reply("rapat/cara")
    if ref.campaign_id is not None:
        return await _for_campaign(ctx, ref.campaign_id)
    running = await meetings.schedulable_campaigns(await ctx.session())
    if not running:
        return ctx.reply("rapat/tidak_ada_kegiatan")
    if len(running) > 1:
        buttons = ctx.campaign_buttons(running, lambda cid: f"rpt:k:{cid}")
        return ctx.reply("rapat/pilih_kegiatan", buttons=buttons, kegiatan=running)
    return await _for_campaign(ctx, running[0].campaign_id)


async def _for_campaign(ctx: Context, campaign_id: int) -> Reply:
    session = await ctx.session()
    campaign = await meetings.require_schedulable(session, campaign_id)
    latest = await meetings.latest_meeting(session, campaign_id)
    if latest is not None and latest.state is not MeetingState.CANCELLED:
        return await _show(ctx, latest)
    await conversations.begin(
        session,
        ctx.request.channel,
        ctx.request.chat_id,
        person_id=ctx.me(),
        flow=SCHEDULE,
        step=Step.TIME,
        data=Draft(campaign.campaign_id, campaign.title).to_json(),
        now=ctx.now,
    )
    return ctx.reply("rapat/tanya_waktu", judul=campaign.title, menit=meetings.DEFAULT_MINUTES)


async def _show(ctx: Context, view: MeetingView) -> Reply:
    """The meeting and its attendance list; its organiser gets the buttons to change it while it is scheduled."""
    rows: list[list[Button]] = [[Button(ctx.label("tombol/daftar_hadir"), f"rpt:m:{view.id}")]]
    if view.organiser_id == ctx.actor.person_id and view.state is MeetingState.SCHEDULED:
        rows = [
            [
                Button(ctx.label("tombol/ubah_jadwal_rapat"), f"rpt:u:{view.id}"),
                Button(ctx.label("tombol/batalkan_rapat"), f"rpt:x:{view.id}"),
            ],
            [await _action(ctx, "tombol/rapat_terlaksana", "rpt_selesai", meeting=view.id)],
            [Button(ctx.label("tombol/waktu_rapat_lain"), f"rpt:w:{view.id}")],
            *rows,
        ]
    return ctx.reply("rapat/rincian", buttons=rows, m=view)


async def meeting_button(ctx: Context) -> Reply:
    """The `rpt:` buttons; organisers only (the service checks who organises a meeting before it changes)."""
    data = ctx.request.payload or ""
    meetings.require_viewer(ctx.actor.roles, data)
    press = payloads.parse_meeting(data)
    if press is None:
        raise DomainError("umum/tombol_kedaluwarsa")
    if press.verb == "campaign" and press.id is not None:
        return await _for_campaign(ctx, press.id)
    if press.verb in ("place", "tim"):
        state = await conversations.current(await ctx.session(), ctx.request.channel, ctx.request.chat_id)
        wanted = Step.PLACE if press.verb == "place" else Step.INVITEES
        if state is None or state.flow != SCHEDULE or state.step != wanted or state.person_id != ctx.actor.person_id:
            raise DomainError("umum/tombol_kedaluwarsa")
        return await schedule_flow(ctx, state, meetings.DEFAULT_PLACE if press.verb == "place" else meetings.TIM_WORD)
    assert press.id is not None  # the other verbs carry the meeting's id
    session = await ctx.session()
    if press.verb == "show":
        return await _show(ctx, await meetings.meeting_view(session, press.id))
    view = await meetings.require_organiser(session, press.id, acting=ctx.acting(_organising_role(ctx)))
    if press.verb == "cancel":
        button = await _action(ctx, "tombol/ya_batalkan_rapat", "rpt_batal", meeting=view.id)
        return ctx.reply("rapat/konfirmasi_batal", buttons=[[button]], m=view)
    flow, template = (
        (RESCHEDULE, "rapat/tanya_waktu_baru")
        if press.verb == "reschedule"
        else (TIMES, "rapat/tanya_waktu_pelaksanaan")
    )
    await conversations.begin(
        session,
        ctx.request.channel,
        ctx.request.chat_id,
        person_id=ctx.me(),
        flow=flow,
        step=Step.TIME,
        data={"meeting": view.id},
        now=ctx.now,
    )
    return ctx.reply(template, m=view)


def _organising_role(ctx: Context) -> Role | None:
    return meetings.organising_role(ctx.actor.roles)


async def _action(ctx: Context, label: str, kind: str, **params: Any) -> Button:
    return await actions.action_button(
        await ctx.session(), ctx.label(label), kind=kind, person_id=ctx.me(), now=ctx.now, **params
    )


# -- scheduling -------------------------------------------------------------------------------------------------


def _moment(ctx: Context, text: str) -> datetime:
    """A date with its time (a meeting at "23:59", the contract's default for a bare date, is never meant)."""
    if len(text.split()) < 2:
        raise DomainError("rapat/jam_wajib")
    try:
        starts = parse_moment(text, ctx.services.settings.timezone)
    except DateParseError:
        raise DomainError("rapat/waktu_tidak_sah") from None
    meetings.require_future(starts, ctx.now)
    return starts


async def schedule_flow(ctx: Context, state: FlowState, pressed: str | None = None) -> Reply:
    """Date and time, place, agenda, invitees, then the confirmation: one question at a time."""
    draft, text = Draft.from_json(state.data), (pressed or ctx.request.text or "").strip()
    session = await ctx.session()
    step = state.step
    if step == Step.TIME:
        draft = replace(draft, starts_at=_moment(ctx, text))
        await _advance(ctx, Step.PLACE, draft)
        buttons = [[Button(ctx.label("tombol/tempat_bawaan"), "rpt:p")]]
        return ctx.reply("rapat/tanya_tempat", buttons=buttons, waktu=draft.starts_at)
    if step == Step.PLACE:
        draft = replace(draft, place=meetings.clean_place(text))
        await _advance(ctx, Step.AGENDA, draft)
        return ctx.reply("rapat/tanya_agenda", tempat=draft.place)
    if step == Step.AGENDA:
        draft = replace(draft, agenda=meetings.clean_agenda(text))
        await _advance(ctx, Step.INVITEES, draft)
        buttons = [[Button(ctx.label("tombol/undang_tim"), "rpt:t")]]
        return ctx.reply("rapat/tanya_undangan", buttons=buttons, calon=await meetings.invitee_candidates(session))
    if step == Step.INVITEES:
        draft = replace(draft, invitees=await meetings.resolve_invitees(session, text.replace(",", " ").split()))
        await _advance(ctx, Step.CONFIRM, draft)
    if step in (Step.INVITEES, Step.CONFIRM) and draft.starts_at is not None:
        button = await _action(ctx, "tombol/kirim_undangan_rapat", "rpt_kirim", campaign=draft.campaign_id)
        return ctx.reply(
            "rapat/konfirmasi",
            buttons=[[button]],
            judul=draft.title,
            waktu=draft.starts_at,
            menit=meetings.DEFAULT_MINUTES,
            tempat=draft.place,
            agenda=draft.agenda,
            nama=await meetings.invitee_names(session, draft.invitees),
        )
    raise DomainError("umum/tombol_kedaluwarsa")


async def _advance(ctx: Context, step: Step, draft: Draft) -> None:
    await conversations.advance(
        await ctx.session(), ctx.request.channel, ctx.request.chat_id, step=step, data=draft.to_json(), now=ctx.now
    )


async def send_action(ctx: Context, params: dict[str, Any]) -> Reply:
    """ "Kirim undangan rapat": the meeting is recorded and every invitee gets the invitation with the buttons."""
    session = await ctx.session()
    state = await conversations.current(session, ctx.request.channel, ctx.request.chat_id)
    if state is None or state.flow != SCHEDULE or state.step != Step.CONFIRM:
        raise DomainError("umum/tombol_kedaluwarsa")  # /batal came first, or the flow started again
    draft = Draft.from_json(state.data)
    if draft.campaign_id != int(params["campaign"]) or draft.starts_at is None:
        raise DomainError("umum/tombol_kedaluwarsa")
    view = await meetings.schedule(
        session,
        draft.campaign_id,
        starts_at=draft.starts_at,
        place=draft.place or meetings.DEFAULT_PLACE,
        agenda=draft.agenda or "",
        invitees=draft.invitees,
        acting=ctx.acting(_organising_role(ctx)),
        now=ctx.now,
    )
    await conversations.finish(session, ctx.request.channel, ctx.request.chat_id)
    await _invite_all(ctx, view, "rapat/undangan")
    return ctx.reply("rapat/terkirim", m=view)


async def _invite_all(ctx: Context, view: MeetingView, template: str, **params: Any) -> None:
    session = await ctx.session()
    for invitee in (i for i in view.invitees if i.active):
        buttons = await rsvp_buttons(session, ctx.services, view, invitee.person_id, ctx.now)
        message = Envelope.of(KIND, template, buttons=buttons, m=view, **params)
        await ctx.send_later(invitee.person_id, message, campaign_id=view.campaign_id)


async def rsvp_buttons(
    session: AsyncSession, services: Services, view: MeetingView, person_id: int, now: datetime
) -> list[list[Button]]:
    """Hadir / Tidak hadir / Diwakilkan for one invitee: one decision, so each names the others' tokens."""
    tokens = {rsvp: actions.new_token() for rsvp in RSVP_ACTIONS}
    ttl = max(actions.DEFAULT_TTL, view.starts_at - now + timedelta(days=1))  # valid until the meeting is over
    row = [
        await actions.action_button(
            session,
            services.label(RSVP_LABELS[rsvp]),
            kind=kind,
            person_id=person_id,
            now=now,
            ttl=ttl,
            token=tokens[rsvp],
            meeting=view.id,
            starts=view.starts_at.isoformat(),
            siblings=sorted(tokens.values()),
        )
        for rsvp, kind in RSVP_ACTIONS.items()
    ]
    return [row]


# -- answers ----------------------------------------------------------------------------------------------------


async def _answer(ctx: Context, params: dict[str, Any], rsvp: Rsvp) -> Reply:
    session = await ctx.session()
    view = await meetings.answer(
        session,
        int(params["meeting"]),
        datetime.fromisoformat(str(params["starts"])),
        rsvp,
        acting=ctx.acting(),
        now=ctx.now,
    )
    await actions.expire(session, [str(t) for t in params.get("siblings", [])], ctx.now)
    me = ctx.me()
    invitee = view.invitee(me)
    if rsvp is Rsvp.DIWAKILKAN:
        await conversations.begin(
            session,
            ctx.request.channel,
            ctx.request.chat_id,
            person_id=me,
            flow=REPRESENTATIVE,
            step=Step.NAME,
            data={"meeting": view.id},
            now=ctx.now,
        )
        return ctx.reply("rapat/tanya_wakil", m=view)
    buttons = await rsvp_buttons(session, ctx.services, view, me, ctx.now)
    return ctx.reply("rapat/jawaban_tercatat", buttons=buttons, m=view, i=invitee)


async def attend_action(ctx: Context, params: dict[str, Any]) -> Reply:
    return await _answer(ctx, params, Rsvp.HADIR)


async def decline_action(ctx: Context, params: dict[str, Any]) -> Reply:
    return await _answer(ctx, params, Rsvp.TIDAK_HADIR)


async def represent_action(ctx: Context, params: dict[str, Any]) -> Reply:
    return await _answer(ctx, params, Rsvp.DIWAKILKAN)


async def representative_flow(ctx: Context, state: FlowState) -> Reply:
    """The representative's name, typed after "Diwakilkan"."""
    session = await ctx.session()
    view = await meetings.name_representative(
        session, int(state.data["meeting"]), ctx.request.text or "", acting=ctx.acting(), now=ctx.now
    )
    await conversations.finish(session, ctx.request.channel, ctx.request.chat_id)
    buttons = await rsvp_buttons(session, ctx.services, view, ctx.me(), ctx.now)
    return ctx.reply("rapat/wakil_tercatat", buttons=buttons, m=view, i=view.invitee(ctx.me()))


# -- the organiser: reschedule, cancel, record the actual times --------------------------------------------------


async def reschedule_flow(ctx: Context, state: FlowState) -> Reply:
    """The new date and time, echoed in words with the button that tells everyone."""
    starts = _moment(ctx, (ctx.request.text or "").strip())
    session = await ctx.session()
    view = await meetings.require_organiser(
        session, int(state.data["meeting"]), acting=ctx.acting(_organising_role(ctx))
    )
    meetings.require_new_start(view, starts, ctx.now)
    button = await _action(ctx, "tombol/ya_ubah_jadwal", "rpt_jadwal", meeting=view.id, starts=starts.isoformat())
    return ctx.reply("rapat/konfirmasi_ubah", buttons=[[button]], m=view, waktu=starts)


async def reschedule_action(ctx: Context, params: dict[str, Any]) -> Reply:
    session = await ctx.session()
    before = await meetings.meeting_view(session, int(params["meeting"]))
    view = await meetings.reschedule(
        session,
        before.id,
        datetime.fromisoformat(str(params["starts"])),
        acting=ctx.acting(_organising_role(ctx)),
        now=ctx.now,
    )
    await conversations.finish(session, ctx.request.channel, ctx.request.chat_id)
    await _invite_all(ctx, view, "rapat/jadwal_diubah", sebelumnya=before.starts_at)
    return ctx.reply("rapat/jadwal_tercatat", m=view)


async def cancel_action(ctx: Context, params: dict[str, Any]) -> Reply:
    view = await meetings.cancel(
        await ctx.session(), int(params["meeting"]), acting=ctx.acting(_organising_role(ctx)), now=ctx.now
    )
    for invitee in (i for i in view.invitees if i.active):
        await ctx.send_later(
            invitee.person_id, Envelope.of(KIND, "rapat/pembatalan", m=view), campaign_id=view.campaign_id
        )
    return ctx.reply("rapat/batal_tercatat", m=view)


async def held_action(ctx: Context, params: dict[str, Any]) -> Reply:
    """ "Rapat terlaksana sesuai jadwal": the scheduled start and duration become the actual times."""
    view = await meetings.record_held(
        await ctx.session(), int(params["meeting"]), acting=ctx.acting(_organising_role(ctx)), now=ctx.now
    )
    return ctx.reply("rapat/terlaksana", m=view)


async def times_flow(ctx: Context, state: FlowState) -> Reply:
    """`09:15 12:30`: the actual start and end on the meeting's day."""
    words = (ctx.request.text or "").split()
    session = await ctx.session()
    view = await meetings.require_organiser(
        session, int(state.data["meeting"]), acting=ctx.acting(_organising_role(ctx))
    )
    if len(words) != 2:
        return ctx.reply("rapat/waktu_pelaksanaan_tidak_sah")
    try:
        first, second = parse_time(words[0]), parse_time(words[1])
    except DateParseError:
        return ctx.reply("rapat/waktu_pelaksanaan_tidak_sah")
    zone = ctx.services.settings.timezone
    day = view.starts_at.astimezone(zone).date()
    held = await meetings.record_held(
        session,
        view.id,
        acting=ctx.acting(_organising_role(ctx)),
        now=ctx.now,
        started=datetime.combine(day, first, tzinfo=zone),
        ended=datetime.combine(day, second, tzinfo=zone),
    )
    await conversations.finish(session, ctx.request.channel, ctx.request.chat_id)
    return ctx.reply("rapat/terlaksana", m=held)


def register(registry_: Registry) -> None:
    registry_.command("rapat", rapat)
    registry_.button("rpt", meeting_button)
    registry_.flow(SCHEDULE, schedule_flow)
    registry_.flow(RESCHEDULE, reschedule_flow)
    registry_.flow(REPRESENTATIVE, representative_flow)
    registry_.flow(TIMES, times_flow)
    registry_.action("rpt_kirim", send_action, roles=meetings.ORGANISERS)
    registry_.action("rpt_jadwal", reschedule_action, roles=meetings.ORGANISERS)
    registry_.action("rpt_batal", cancel_action, roles=meetings.ORGANISERS)
    registry_.action("rpt_selesai", held_action, roles=meetings.ORGANISERS)
    registry_.action(RSVP_ACTIONS[Rsvp.HADIR], attend_action, roles=EVERY_ROLE)
    registry_.action(RSVP_ACTIONS[Rsvp.TIDAK_HADIR], decline_action, roles=EVERY_ROLE)
    registry_.action(RSVP_ACTIONS[Rsvp.DIWAKILKAN], represent_action, roles=EVERY_ROLE)
