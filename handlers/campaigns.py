"""`/kampanye`: campaigns, the creation flow, the Kasi → Kabid disposition and the signed letter (SOP steps 0–2).

Read-only buttons use the prefix `kmp:` (`kmp:v:ID` shows a campaign, `kmp:baru` starts the creation flow,
`kmp:fw:KEY` and `kmp:opd:semua` answer its questions, `kmp:ubah:ID`, `kmp:surat:ID` and `kmp:ttd:ID` start the
editing and letter flows, `kmp:ba:ID` the signed Berita Acara's); every button that changes a campaign's state is a
one-time action.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from bot.conversation import payloads
from bot.conversation.core import Button, Reply
from bot.conversation.envelope import Document, Envelope
from bot.conversation.handling import Context, Registry
from bot.dates import DateParseError, parse_moment
from bot.domain.enums import Role
from bot.errors import DomainError
from bot.services import (
    actions,
    berita_acara,
    broadcast,
    campaigns,
    conversations,
    identity,
    items,
    people,
    registry,
    uploads,
)
from bot.services.campaign_actions import (
    ACTION_ROLES,
    ACTION_STATE,
    LETTER_UPLOADERS,
    CampaignAction,
    acting_role,
    campaign_actions,
    may_view,
    role_allows,
)
from bot.services.campaign_view import campaign_view
from bot.services.campaigns import CampaignDetail
from bot.services.conversations import FlowState
from bot.services.timeline import SIGNED_LETTER_STEP, sop_step
from storage.filestore import Blob

FRAMEWORK_CHOICES = {"59": "permenpanrb-59-2020", "pemdi": "permenpanrb-8-2026-pemdi"}
NEW, EDIT, DRAFT_LETTER, SIGNED_LETTER, RETURN_NOTE = "kmp_baru", "kmp_ubah", "kmp_surat", "kmp_ttd", "kmp_catatan"
SIGNED_BA = "kmp_ba"
# The `kmp:` buttons that start a flow: the action it is and the flow it begins.
STARTERS = {
    "baru": (CampaignAction.CREATE, NEW),
    "ubah": (CampaignAction.EDIT_ITEMS, EDIT),
    "surat": (CampaignAction.REPLACE_DRAFT_LETTER, DRAFT_LETTER),
    "ttd": (CampaignAction.UPLOAD_SIGNED_LETTER, SIGNED_LETTER),
    "ba": (CampaignAction.UPLOAD_SIGNED_BA, SIGNED_BA),
}


class Step(StrEnum):
    """The steps of the campaign flows (stored by value in the chat's conversation row)."""

    TITLE = "judul"
    FRAMEWORK = "kerangka"
    IMPORT = "impor"
    DEADLINE = "tenggat"
    OPDS = "opd"
    LETTER = "surat"
    WAITING = "tunggu"  # editing and the letter flows: the lines or the PDF
    NOTE = "catatan"  # the Kabid's return note


@dataclass(frozen=True)
class NewCampaign:
    """What the creation flow has collected so far; kept as JSON between messages."""

    title: str = ""
    framework: str | None = None
    items: tuple[items.ItemSpec, ...] = ()  # imported items, when no framework was chosen
    deadline: datetime | None = None
    opd_codes: tuple[str, ...] | None = None  # None: every active OPD the items name

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "framework": self.framework,
            "items": [_spec_json(s) for s in self.items],
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "opd_codes": list(self.opd_codes) if self.opd_codes is not None else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NewCampaign:
        deadline, codes = data.get("deadline"), data.get("opd_codes")
        return cls(
            title=data.get("title", ""),
            framework=data.get("framework"),
            items=tuple(_spec_from_json(s) for s in data.get("items") or ()),
            deadline=datetime.fromisoformat(deadline) if deadline else None,
            opd_codes=tuple(codes) if codes is not None else None,
        )


@dataclass(frozen=True)
class ForCampaign:
    """The data of the flows about one campaign (editing, letters, the return note)."""

    campaign_id: int

    def to_json(self) -> dict[str, Any]:
        return {"campaign": self.campaign_id}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ForCampaign:
        return cls(int(data["campaign"]))


# -- /kampanye and its read-only buttons -------------------------------------------------------------------------


async def kampanye(ctx: Context) -> Reply:
    """`/kampanye` lists campaigns; `/kampanye #ID` shows one with the viewer's action buttons."""
    if ctx.request.args:
        return await show(ctx, _campaign_id(ctx.request.args[0]))
    listed = await campaigns.list_campaigns(await ctx.session())
    buttons = [[Button(ctx.label("tombol/kampanye", id=c.id, title=c.title)[:60], f"kmp:v:{c.id}")] for c in listed[:7]]
    if role_allows(ctx.actor, CampaignAction.CREATE):
        buttons.append([Button(ctx.label("tombol/kampanye_baru"), "kmp:baru")])
    return ctx.reply("kampanye/daftar", buttons=buttons, campaigns=listed)


async def kampanye_button(ctx: Context) -> Reply | list[Reply]:
    """The `kmp:` buttons; each checks the presser's roles, whatever the callback data says."""
    data = ctx.request.payload or ""
    if not may_view(ctx.actor):
        raise DomainError("umum/tombol_bukan_untuk_anda", audit_action="forged_button", data=data[:64])
    press = payloads.parse_campaign(data)
    if press is None:
        raise DomainError("umum/tombol_kedaluwarsa")
    if press.kind == "v" and press.campaign_id is not None:
        return await show(ctx, press.campaign_id)
    if press.kind in STARTERS:
        action, flow = STARTERS[press.kind]
        if not role_allows(ctx.actor, action):
            raise DomainError("umum/tombol_bukan_untuk_anda", audit_action="forged_button", data=data[:64])
        if flow == NEW:
            if press.key is None and (half_made := await _half_made_plan(ctx)) is not None:
                restart = Button(ctx.label("tombol/buang_rencana"), "kmp:baru:ulang")
                return ctx.reply("kampanye/buang_rencana", buttons=[[restart]], judul=half_made.title)
            return await _begin(ctx, NEW, Step.TITLE, NewCampaign().to_json(), "kampanye/tanya_judul")
        if press.campaign_id is not None:
            return await _begin_for_campaign(ctx, action, flow, press.campaign_id)
    if press.key is not None and press.kind in ("fw", "opd"):
        return await _flow_choice(ctx, press.kind, press.key)
    raise DomainError("umum/tombol_kedaluwarsa")


async def _half_made_plan(ctx: Context) -> NewCampaign | None:
    """The plan this chat is creating, once it has a title (pressing "Kegiatan Monev baru" again would discard it)."""
    state = await conversations.current(await ctx.session(), ctx.request.channel, ctx.request.chat_id)
    if state is None or state.flow != NEW:
        return None
    draft = NewCampaign.from_json(state.data)
    return draft if draft.title else None


async def show(ctx: Context, campaign_id: int) -> Reply:
    view = await campaign_view(await ctx.session(), ctx.services.settings, campaign_id, ctx.now)
    buttons = await _campaign_buttons(ctx, view.detail)
    return ctx.reply("kampanye/rincian", buttons=buttons, v=view, c=view.detail)


async def _campaign_buttons(ctx: Context, detail: CampaignDetail) -> list[list[Button]]:
    """The buttons of the actions the viewer may take (campaign_actions decides which)."""
    allowed, me = campaign_actions(ctx.actor, detail), ctx.me()
    rows: list[list[Button]] = []
    editing = [
        Button(ctx.label(label), f"kmp:{kind}:{detail.id}")
        for action, label, kind in (
            (CampaignAction.EDIT_ITEMS, "tombol/ubah_penugasan", "ubah"),
            (CampaignAction.REPLACE_DRAFT_LETTER, "tombol/ganti_surat_draf", "surat"),
        )
        if action in allowed
    ]
    if editing:
        rows.append(editing)
    if CampaignAction.SUBMIT in allowed:
        rows.append([await _action_button(ctx, "tombol/ajukan_ke_kabid", "kmp_submit", me, detail.id)])
    if CampaignAction.APPROVE in allowed:  # with RETURN: the same roles, state and duty
        rows.append(await _decision_buttons(ctx, detail.id, me))
    if CampaignAction.UPLOAD_SIGNED_LETTER in allowed:
        rows.append([Button(ctx.label("tombol/unggah_surat_ttd"), f"kmp:ttd:{detail.id}")])
    if CampaignAction.SEND_INVITATIONS in allowed:
        rows.append([await _broadcast_button(ctx, detail.id, me)])
    if CampaignAction.CLOSE_COLLECTION in allowed:
        rows.append([await _action_button(ctx, "tombol/tutup_pengumpulan", "kmp_close", me, detail.id)])
    if CampaignAction.UPLOAD_SIGNED_BA in allowed:
        rows.append([Button(ctx.label("tombol/unggah_ba_ttd"), f"kmp:ba:{detail.id}")])
    return rows


async def _action_button(
    ctx: Context, label: str, kind: str, person_id: int, campaign_id: int, **values: object
) -> Button:
    """A one-time campaign action for `person_id`, labelled from `templates/tombol/`."""
    return await actions.action_button(
        await ctx.session(),
        ctx.label(label, **values),
        kind=kind,
        person_id=person_id,
        now=ctx.now,
        campaign=campaign_id,
    )


async def _decision_buttons(ctx: Context, campaign_id: int, kabid: int) -> list[Button]:
    return [
        await _action_button(ctx, "tombol/setujui", "kmp_approve", kabid, campaign_id),
        await _action_button(ctx, "tombol/kembalikan", "kmp_return", kabid, campaign_id),
    ]


async def _broadcast_button(ctx: Context, campaign_id: int, uploader: int) -> Button:
    reach = await campaigns.broadcast_reach(await ctx.session(), campaign_id)
    return await _action_button(
        ctx, "tombol/kirim_undangan", "kmp_open", uploader, campaign_id, opds=reach.opds, liaisons=reach.liaisons
    )


# -- the creation flow ------------------------------------------------------------------------------------------


async def _begin(ctx: Context, flow: str, step: Step, data: dict[str, Any], template: str, **params: Any) -> Reply:
    await conversations.begin(
        await ctx.session(),
        ctx.request.channel,
        ctx.request.chat_id,
        person_id=ctx.me(),
        flow=flow,
        step=step,
        data=data,
        now=ctx.now,
    )
    return ctx.reply(template, **params)


async def _advance(ctx: Context, step: Step, draft: NewCampaign) -> None:
    await conversations.advance(
        await ctx.session(), ctx.request.channel, ctx.request.chat_id, step=step, data=draft.to_json(), now=ctx.now
    )


async def new_campaign_flow(ctx: Context, state: FlowState) -> Reply:
    """Title, framework or imported items, deadline, OPDs, letter: one question at a time."""
    draft, text = NewCampaign.from_json(state.data), (ctx.request.text or "").strip()
    step = _step(state)
    if step == Step.TITLE:
        if not 3 <= len(text) <= campaigns.TITLE_MAX:
            return ctx.reply("kampanye/judul_tidak_sah", maksimum=campaigns.TITLE_MAX)
        await _advance(ctx, Step.FRAMEWORK, replace(draft, title=text))
        return _ask_framework(ctx)
    if step == Step.FRAMEWORK:
        return _ask_framework(ctx)
    if step == Step.IMPORT:
        return await _import_items(ctx, draft)
    if step == Step.DEADLINE:
        return await _deadline(ctx, draft, text)
    if step == Step.OPDS:
        return await _opd_choice(ctx, draft, text.replace(",", " ").split())
    if step == Step.LETTER:
        return await _finish_creation(ctx, draft, text)
    raise DomainError("umum/tombol_kedaluwarsa")


def _step(state: FlowState) -> Step | None:
    """The flow's step, or None for a step this version does not know (the flow is then stale)."""
    try:
        return Step(state.step)
    except ValueError:
        return None


def _ask_framework(ctx: Context) -> Reply:
    buttons = [
        [Button(ctx.label("tombol/kerangka_59"), "kmp:fw:59")],
        [Button(ctx.label("tombol/kerangka_pemdi"), "kmp:fw:pemdi")],
        [Button(ctx.label("tombol/impor_item"), "kmp:fw:impor")],
    ]
    return ctx.reply("kampanye/tanya_kerangka", buttons=buttons)


async def _flow_choice(ctx: Context, kind: str, value: str) -> Reply:
    """A button answer inside the creation flow; stale if the chat is not at that question."""
    state = await conversations.current(await ctx.session(), ctx.request.channel, ctx.request.chat_id)
    expected = {"fw": Step.FRAMEWORK, "opd": Step.OPDS}[kind]
    if state is None or state.flow != NEW or state.step != expected:
        raise DomainError("umum/tombol_kedaluwarsa")
    draft = NewCampaign.from_json(state.data)
    if kind == "opd":
        return await _opd_choice(ctx, draft, [])
    if value == "impor":
        await _advance(ctx, Step.IMPORT, draft)
        return ctx.reply("kampanye/tanya_impor")
    if value not in FRAMEWORK_CHOICES:
        raise DomainError("umum/tombol_kedaluwarsa")
    await _advance(ctx, Step.DEADLINE, replace(draft, framework=FRAMEWORK_CHOICES[value]))
    return ctx.reply("kampanye/tanya_tenggat")


async def _import_items(ctx: Context, draft: NewCampaign) -> Reply:
    if not ctx.request.attachments:
        return ctx.reply("kampanye/tanya_impor")
    attachment = ctx.request.attachments[0]
    name = uploads.clean_file_name(attachment.file_name, fallback="item.xlsx")
    staged = await attachment.fetch(ctx.services.files)
    try:  # the item file is read, never kept: it leaves no trace in the store
        opds = await registry.list_opds(await ctx.session())
        codes, active = [o.code for o in opds], [o.code for o in opds if o.active]
        specs, rejections = _validated_items(staged.path, name, codes, active)
    finally:
        ctx.services.files.discard(staged)
    if rejections:
        shown = rejections[:20]
        return ctx.reply("kampanye/impor_ditolak", nama=name, rejections=shown, more=len(rejections) - len(shown))
    await _advance(ctx, Step.DEADLINE, replace(draft, framework=None, items=tuple(specs)))
    return ctx.reply("kampanye/impor_diterima", count=len(specs))


def _validated_items(
    path: Path, name: str, known: list[str], active: list[str]
) -> tuple[list[items.ItemSpec], list[items.Rejection]]:
    """The item parser reads by file extension; temp files are named at random, so give it a named link."""
    with tempfile.TemporaryDirectory() as folder:
        link = Path(folder) / f"impor{Path(name).suffix.lower()}"
        os.symlink(path, link)
        try:
            rows = items.parse_item_file(link)
        except items.ItemFileError as error:  # its English names the link: the chat says it with the sender's name
            return [], [items.Rejection(1, "-", str(error), error.kind, tuple(error.values.items()))]
    return items.validate_item_rows(rows, known, active)


async def _deadline(ctx: Context, draft: NewCampaign, text: str) -> Reply:
    try:
        deadline = parse_moment(text, ctx.services.settings.timezone)
    except DateParseError:
        return ctx.reply("kampanye/tenggat_tidak_sah")
    if deadline <= ctx.now:
        return ctx.reply("kampanye/tenggat_lewat", tenggat=deadline)
    await _advance(ctx, Step.OPDS, replace(draft, deadline=deadline))
    return ctx.reply(
        "kampanye/tanya_opd", buttons=[[Button(ctx.label("tombol/semua_opd"), "kmp:opd:semua")]], tenggat=deadline
    )


async def _opd_choice(ctx: Context, draft: NewCampaign, codes: list[str]) -> Reply:
    known = {o.code for o in await registry.list_opds(await ctx.session()) if o.active}
    unknown = sorted({c.upper() for c in codes} - known)
    if unknown:
        return ctx.reply("kampanye/opd_tidak_dikenal", kode=", ".join(unknown))
    specs = items.framework_items(draft.framework) if draft.framework else list(draft.items)
    campaigns.require_items_for(sorted({c.upper() for c in codes}), specs)  # refused now, not after the letter
    await _advance(ctx, Step.LETTER, replace(draft, opd_codes=tuple(sorted({c.upper() for c in codes})) or None))
    return ctx.reply("kampanye/tanya_surat")


async def _finish_creation(ctx: Context, draft: NewCampaign, text: str) -> Reply:
    if draft.deadline is None:  # the flow asks for the deadline before the letter
        raise DomainError("umum/tombol_kedaluwarsa")
    letter = None
    if ctx.request.attachments:
        letter = await _pdf_from(ctx)
    elif text.lower() != "lewati":
        return ctx.reply("kampanye/tanya_surat")
    specs = items.framework_items(draft.framework) if draft.framework else list(draft.items)
    session = await ctx.session()
    campaign_id = await campaigns.create_campaign(
        session,
        title=draft.title,
        framework=draft.framework,
        items=specs,
        deadline=draft.deadline,
        opd_codes=draft.opd_codes,
        acting=ctx.acting(_editor_role(ctx)),
        now=ctx.now,
        letter=letter,
    )
    await conversations.finish(session, ctx.request.channel, ctx.request.chat_id)
    return await show(ctx, campaign_id)


async def _pdf_from(ctx: Context) -> tuple[Blob, str]:
    """The message's file, which must really be a PDF (judged by its content) and only a PDF."""
    attachment = ctx.request.attachments[0]
    name = uploads.clean_file_name(attachment.file_name, fallback="surat.pdf")
    staged = await attachment.fetch(ctx.services.files)
    return uploads.admit_checked(ctx.services.files, staged, name, pdf_only=True), name


def _spec_json(spec: items.ItemSpec) -> dict[str, Any]:
    return {
        "code": spec.code,
        "title": spec.title,
        "description": spec.description,
        "required": spec.required,
        "opd_codes": list(spec.opd_codes),
        "file_kinds": list(spec.file_kinds),
        "position": spec.position,
    }


def _spec_from_json(data: dict[str, Any]) -> items.ItemSpec:
    return items.ItemSpec(
        code=data["code"],
        title=data["title"],
        description=data["description"],
        required=data["required"],
        weight=None,
        opd_codes=tuple(data["opd_codes"]),
        file_kinds=tuple(data["file_kinds"]),
        domain=None,
        aspect=None,
        position=data["position"],
    )


# -- editing a draft, the letters, the return note ---------------------------------------------------------------


async def _begin_for_campaign(ctx: Context, action: CampaignAction, flow: str, campaign_id: int) -> Reply:
    detail = await campaigns.campaign_detail(await ctx.session(), campaign_id)
    if detail.state != ACTION_STATE[action]:
        raise DomainError("umum/sudah_diproses")
    template = {
        EDIT: "kampanye/tanya_penugasan",
        DRAFT_LETTER: "kampanye/tanya_surat_draf",
        SIGNED_LETTER: "kampanye/tanya_surat_ttd",
        SIGNED_BA: "kampanye/tanya_ba_ttd",
    }[flow]
    return await _begin(ctx, flow, Step.WAITING, ForCampaign(campaign_id).to_json(), template, c=detail)


async def edit_flow(ctx: Context, state: FlowState) -> Reply:
    """Lines of `KODE_ITEM OPD OPD …` set who answers an item; `selesai` ends."""
    text = (ctx.request.text or "").strip()
    campaign_id = ForCampaign.from_json(state.data).campaign_id
    if text.lower() == "selesai":
        await conversations.finish(await ctx.session(), ctx.request.channel, ctx.request.chat_id)
        return await show(ctx, campaign_id)
    changed, removed = [], []
    for line in text.splitlines():
        words = line.replace(",", " ").split()
        if len(words) < 2:
            return ctx.reply("kampanye/penugasan_tidak_sah", baris=line)
        if words[0].lower() == "hapus":  # `hapus DINKES`: the OPD leaves the plan
            removed += await campaigns.remove_opds(
                await ctx.session(), campaign_id, words[1:], acting=ctx.acting(_editor_role(ctx)), now=ctx.now
            )
            continue
        changed.append(
            await campaigns.assign_item(
                await ctx.session(), campaign_id, words[0], words[1:], acting=ctx.acting(_editor_role(ctx)), now=ctx.now
            )
        )
    return ctx.reply("kampanye/penugasan_diubah", changed=changed, removed=removed)


async def draft_letter_flow(ctx: Context, state: FlowState) -> Reply:
    if not ctx.request.attachments:
        return ctx.reply("kampanye/kirim_pdf")
    campaign_id, blob, name = await _letter_received(ctx, state)
    await campaigns.set_draft_letter(
        await ctx.session(), campaign_id, blob, name, acting=ctx.acting(_editor_role(ctx)), now=ctx.now
    )
    return await show(ctx, campaign_id)


async def _letter_received(ctx: Context, state: FlowState) -> tuple[int, Blob, str]:
    """A letter flow's PDF arrived: the flow ends, whichever letter it was."""
    blob, name = await _pdf_from(ctx)
    await conversations.finish(await ctx.session(), ctx.request.channel, ctx.request.chat_id)
    return ForCampaign.from_json(state.data).campaign_id, blob, name


async def signed_letter_flow(ctx: Context, state: FlowState) -> Reply:
    """Step 2: the signed letter arrives; its uploader is asked to confirm the broadcast."""
    if not ctx.request.attachments:
        return ctx.reply("kampanye/kirim_pdf")
    campaign_id, blob, name = await _letter_received(ctx, state)
    session = await ctx.session()
    # The flow began with the role; the letter is recorded only while it is still held (the one access rule).
    uploader = await identity.authorize(session, ctx.actor.person_id, LETTER_UPLOADERS)
    role = acting_role(uploader, CampaignAction.UPLOAD_SIGNED_LETTER)
    await campaigns.record_signed_letter(session, campaign_id, blob, name, acting=ctx.acting(role), now=ctx.now)
    button = await _broadcast_button(ctx, campaign_id, ctx.me())
    return ctx.reply("kampanye/surat_ttd_diterima", buttons=[[button]], nama=name)


async def signed_ba_flow(ctx: Context, state: FlowState) -> Reply:
    """Step 6 ends: the Berita Acara signed by the Sekda arrives as a PDF and is stored."""
    if not ctx.request.attachments:
        return ctx.reply("kampanye/kirim_pdf")
    campaign_id, blob, name = await _letter_received(ctx, state)
    session = await ctx.session()
    # As for the signed letter: recorded only while the uploader still holds the role the flow began with.
    uploader = await identity.authorize(session, ctx.actor.person_id, ACTION_ROLES[CampaignAction.UPLOAD_SIGNED_BA])
    role = acting_role(uploader, CampaignAction.UPLOAD_SIGNED_BA)
    signed = await berita_acara.record_signed_ba(session, campaign_id, blob, name, acting=ctx.acting(role), now=ctx.now)
    return ctx.reply("kampanye/ba_ttd_diterima", nama=signed.name, id=campaign_id)


async def return_note_flow(ctx: Context, state: FlowState) -> Reply:
    """The Kabid types why the plan goes back; the Kasi is told."""
    note = (ctx.request.text or "").strip()
    if not note:
        return ctx.reply("kampanye/tanya_catatan")
    session = await ctx.session()
    detail = await campaigns.decide(
        session,
        ForCampaign.from_json(state.data).campaign_id,
        approve=False,
        note=note,
        acting=ctx.acting(Role.KABID),
        now=ctx.now,
    )
    await conversations.finish(session, ctx.request.channel, ctx.request.chat_id)
    await _tell_submitter(ctx, detail, approved=False, note=note)
    return ctx.reply("kampanye/dikembalikan", c=detail)


async def return_note_cancelled(ctx: Context, state: FlowState) -> Reply:
    """`/batal` instead of the note: nothing was decided, so the Kabid gets the decision buttons again."""
    detail = await campaigns.campaign_detail(await ctx.session(), ForCampaign.from_json(state.data).campaign_id)
    if CampaignAction.APPROVE not in campaign_actions(ctx.actor, detail):
        return ctx.reply("umum/dibatalkan")
    buttons = [await _decision_buttons(ctx, detail.id, ctx.me())]
    return ctx.reply("kampanye/pengembalian_dibatalkan", buttons=buttons, c=detail)


# -- one-time actions --------------------------------------------------------------------------------------------


async def submit_action(ctx: Context, params: dict[str, Any]) -> Reply:
    """The Kasi submits the plan; every eligible Kabid gets the summary, the letter and the decision buttons."""
    session = await ctx.session()
    campaign_id = int(params["campaign"])
    kabids = await campaigns.submit_to_kabid(session, campaign_id, acting=ctx.acting(Role.KASI), now=ctx.now)
    detail = await campaigns.campaign_detail(session, campaign_id)
    for kabid in kabids:
        buttons = [await _decision_buttons(ctx, campaign_id, kabid)]
        await ctx.notify(kabid, "kampanye/untuk_kabid", buttons=buttons, kind="disposisi", c=detail)
        await _send_draft_letter(ctx, kabid, detail, kind="disposisi")
    return ctx.reply("kampanye/diajukan", c=detail, jumlah=len(kabids))


async def _send_draft_letter(ctx: Context, person_id: int, detail: CampaignDetail, *, kind: str) -> None:
    if detail.draft_letter:
        letter = Envelope.of(kind, "kampanye/draf_surat", document=Document(*detail.draft_letter), c=detail.summary)
        await ctx.send_later(person_id, letter, campaign_id=detail.id)


async def approve_action(ctx: Context, params: dict[str, Any]) -> Reply:
    detail = await campaigns.decide(
        await ctx.session(),
        int(params["campaign"]),
        approve=True,
        note=None,
        acting=ctx.acting(Role.KABID),
        now=ctx.now,
    )
    await _tell_submitter(ctx, detail, approved=True, note=None)
    await _ask_for_signed_letter(ctx, detail)
    return ctx.reply("kampanye/disetujui", c=detail)


async def _ask_for_signed_letter(ctx: Context, detail: CampaignDetail) -> None:
    """Step 2's clock runs from the approval: whoever may upload the signed letter is told, with the draft."""
    button = Button(ctx.label("tombol/unggah_surat_ttd"), f"kmp:ttd:{detail.id}")
    target = sop_step(SIGNED_LETTER_STEP).target
    for person in await people.people_with_roles(await ctx.session(), LETTER_UPLOADERS):
        if person == ctx.actor.person_id:
            continue  # the Kabid who approved sees the plan already
        await ctx.notify(
            person,
            "kampanye/minta_surat_ttd",
            buttons=[[button]],
            kind="surat_ttd",
            c=detail,
            kabid=ctx.actor.display_name,
            target_hari=target,
        )
        await _send_draft_letter(ctx, person, detail, kind="surat_ttd")


async def return_action(ctx: Context, params: dict[str, Any]) -> Reply:
    """The note comes as the Kabid's next message (a flow), so the decision waits for it."""
    detail = await campaigns.campaign_detail(await ctx.session(), int(params["campaign"]))
    if detail.state != ACTION_STATE[CampaignAction.RETURN]:
        raise DomainError("umum/sudah_diproses")
    return await _begin(ctx, RETURN_NOTE, Step.NOTE, ForCampaign(detail.id).to_json(), "kampanye/tanya_catatan")


async def open_action(ctx: Context, params: dict[str, Any]) -> Reply:
    """The uploader confirms the broadcast: the campaign opens and every liaison's invitation is queued."""
    session = await ctx.session()
    campaign_id = int(params["campaign"])
    role = acting_role(ctx.actor, CampaignAction.SEND_INVITATIONS)
    await campaigns.open_campaign(session, campaign_id, acting=ctx.acting(role), now=ctx.now)
    reach = await campaigns.broadcast_reach(session, campaign_id)
    queued = await broadcast.invite_all(session, campaign_id, ctx.now)
    return ctx.reply("kampanye/dibuka", id=campaign_id, reach=reach, queued=queued)


async def close_action(ctx: Context, params: dict[str, Any]) -> Reply:
    """ "Tutup pengumpulan" asks once more: closing refuses every later upload from the OPDs."""
    detail = await campaigns.campaign_detail(await ctx.session(), int(params["campaign"]))
    if detail.state != ACTION_STATE[CampaignAction.CLOSE_COLLECTION]:
        raise DomainError("umum/sudah_diproses")
    confirm = await _action_button(ctx, "tombol/ya_tutup_pengumpulan", "kmp_close_yes", ctx.me(), detail.id)
    return ctx.reply("kampanye/tutup_konfirmasi", buttons=[[confirm]], c=detail)


async def close_confirmed_action(ctx: Context, params: dict[str, Any]) -> Reply:
    session = await ctx.session()
    campaign_id = int(params["campaign"])
    await campaigns.close_collection(session, campaign_id, acting=ctx.acting(Role.KABID), now=ctx.now)
    return ctx.reply("kampanye/pengumpulan_ditutup", c=await campaigns.campaign_detail(session, campaign_id))


async def _tell_submitter(ctx: Context, detail: CampaignDetail, *, approved: bool, note: str | None) -> None:
    if detail.submitted_by is not None:
        await ctx.notify(
            detail.submitted_by, "kampanye/hasil_disposisi", kind="disposisi", c=detail, approved=approved, note=note
        )


# -- helpers ----------------------------------------------------------------------------------------------------


def _editor_role(ctx: Context) -> Role | None:
    return acting_role(ctx.actor, CampaignAction.EDIT_ITEMS)


def _campaign_id(text: str) -> int:
    campaign_id = payloads.parse_id(text)
    if campaign_id is None:
        typed = text.lstrip("#")  # shown as typed, with the one `#` the template adds, and bounded
        raise DomainError("kampanye/tidak_dikenal", id=typed if len(typed) <= 24 else typed[:23] + "…")
    return campaign_id


def register(registry_: Registry) -> None:
    registry_.command("kegiatan", kampanye)
    registry_.button("kmp", kampanye_button)
    registry_.flow(NEW, new_campaign_flow)
    registry_.flow(EDIT, edit_flow)
    registry_.flow(DRAFT_LETTER, draft_letter_flow)
    registry_.flow(SIGNED_LETTER, signed_letter_flow)
    registry_.flow(SIGNED_BA, signed_ba_flow)
    registry_.flow(RETURN_NOTE, return_note_flow, on_cancel=return_note_cancelled)
    registry_.action("kmp_submit", submit_action, roles=ACTION_ROLES[CampaignAction.SUBMIT])
    registry_.action("kmp_approve", approve_action, roles=ACTION_ROLES[CampaignAction.APPROVE])
    registry_.action("kmp_return", return_action, roles=ACTION_ROLES[CampaignAction.RETURN])
    registry_.action("kmp_open", open_action, roles=ACTION_ROLES[CampaignAction.SEND_INVITATIONS])
    registry_.action("kmp_close", close_action, roles=ACTION_ROLES[CampaignAction.CLOSE_COLLECTION])
    registry_.action("kmp_close_yes", close_confirmed_action, roles=ACTION_ROLES[CampaignAction.CLOSE_COLLECTION])
