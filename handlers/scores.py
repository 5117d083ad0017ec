"""`/nilai`: the Tim SPBE's self-assessment (SOP step 6) — a level and its explanation per indicator, or a file.

The summary shows the simulation (index or "belum lengkap", predicate, per aspect and domain) with three buttons:
fill in (a page of seven indicators, then the indicator with its accepted evidence and five level buttons, then the
explanation typed, for Pemdi 5-7 the source, then a one-time "Simpan nilai"), the ranking ("Prioritas
peningkatan"), and the import (a scores file, accepted only inside that flow, checked as a whole, then confirmed).
Read-only buttons use `nil:` (bot.conversation.payloads.parse_score); what records a score is a one-time action.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from bot.conversation import payloads
from bot.conversation.core import PAGE_SIZE, TITLE_LABEL_CHARS, Button, Reply, fit_label, page_of
from bot.conversation.envelope import Document, Envelope
from bot.conversation.handling import Context, Registry
from bot.domain import scoring
from bot.errors import DomainError
from bot.services import actions, conversations, score_import, scores, uploads
from bot.services.conversations import FlowState
from bot.services.items import Rejection
from bot.services.scores import ScoreSheet

KIND = "nilai"
SCORE, IMPORT = "nilai", "nilai_impor"
STEP_EXPLANATION, STEP_SOURCE, STEP_CONFIRM, STEP_FILE = "penjelasan", "sumber", "konfirmasi", "berkas"
RANKING_SHOWN = 10
REJECTIONS_SHOWN = 20


async def nilai(ctx: Context) -> Reply:
    """`/nilai [#ID] [KODE]`: the campaign's scores and simulation, or straight to one indicator."""
    ref = payloads.campaign_ref(ctx.request.args)
    if len(ref.words) > 1:
        return ctx.reply("nilai/cara")
    campaign_id = ref.campaign_id
    if campaign_id is None:
        running = await scores.scoring_campaigns(await ctx.session())
        if not running:
            return ctx.reply("nilai/tidak_ada_kegiatan")
        if len(running) > 1:
            buttons = ctx.campaign_buttons(running, lambda cid: f"nil:k:{cid}")
            return ctx.reply("nilai/pilih_kegiatan", buttons=buttons, kegiatan=running)
        campaign_id = running[0].campaign_id
    await scores.require_scoring(await ctx.session(), campaign_id)
    if ref.words:
        return await _indicator(ctx, campaign_id, ref.words[0])
    return await _summary(ctx, campaign_id)


async def _sheet(ctx: Context, campaign_id: int) -> ScoreSheet:
    return await scores.score_sheet(await ctx.session(), campaign_id)


async def _summary(ctx: Context, campaign_id: int) -> Reply:
    sheet = await _sheet(ctx, campaign_id)
    buttons = [
        [Button(ctx.label("tombol/isi_nilai"), f"nil:i:{campaign_id}:0")],
        [Button(ctx.label("tombol/prioritas_peningkatan"), f"nil:r:{campaign_id}")],
        [Button(ctx.label("tombol/impor_nilai"), f"nil:m:{campaign_id}")],
    ]
    return ctx.reply("nilai/ringkasan", buttons=buttons, s=sheet)


async def score_button(ctx: Context) -> Reply:
    """The `nil:` buttons, for admins, the Kasi and the Tim."""
    data = ctx.request.payload or ""
    scores.require_viewer(ctx.actor.roles, data)
    press = payloads.parse_score(data)
    if press is None:
        raise DomainError("umum/tombol_kedaluwarsa")
    session = await ctx.session()
    await scores.require_scoring(session, press.campaign_id)
    if press.verb == "campaign":
        return await _summary(ctx, press.campaign_id)
    if press.verb == "page":
        return await _page(ctx, press.campaign_id, press.page or 0)
    if press.verb == "indicator" and press.item_code is not None:
        return await _indicator(ctx, press.campaign_id, press.item_code)
    if press.verb == "level" and press.item_code is not None and press.level is not None:
        return await _level_chosen(ctx, press.campaign_id, press.item_code, press.level)
    if press.verb == "ranking":
        return ctx.reply("nilai/prioritas", s=await _sheet(ctx, press.campaign_id), batas=RANKING_SHOWN)
    if press.verb != "import":
        raise DomainError("umum/tombol_kedaluwarsa")
    await conversations.begin(
        session, ctx.request.channel, ctx.request.chat_id, person_id=ctx.me(), flow=IMPORT, step=STEP_FILE,
        data={"campaign": press.campaign_id}, now=ctx.now,
    )  # fmt: skip
    sheet = await _sheet(ctx, press.campaign_id)
    # The template (every indicator, the current scores in) follows as a document to fill in and send back.
    blob = ctx.services.files.store_bytes(score_import.score_template_bytes(sheet))
    await uploads.register_blob(session, blob, ctx.now)
    document = Document(blob.sha256, score_import.template_name(sheet.campaign_id))
    await ctx.send_later(ctx.me(), Envelope.of(KIND, "nilai/templat", document=document, judul=sheet.title))
    return ctx.reply("nilai/tanya_impor", s=sheet)


async def _page(ctx: Context, campaign_id: int, number: int) -> Reply:
    sheet = await _sheet(ctx, campaign_id)
    page = page_of(len(sheet.rows), number, lambda p: f"nil:i:{campaign_id}:{p}", labels=ctx.services.paging_labels())
    shown = sheet.rows[page.start : page.end]
    buttons = [
        [Button(fit_label(ctx.label("tombol/nilai_indikator", r=r), TITLE_LABEL_CHARS),
                f"nil:d:{campaign_id}:{r.code}")]
        for r in shown
    ]  # fmt: skip
    if page.paging:
        buttons.append(list(page.paging))
    return ctx.reply("nilai/pilih_indikator", buttons=buttons, s=sheet, baris=shown, halaman=page)


async def _indicator(ctx: Context, campaign_id: int, code: str) -> Reply:
    """One indicator: what it is, its current score, which OPDs' versions are accepted, and the five levels."""
    await scores.require_indicator(await ctx.session(), campaign_id, code)
    sheet = await _sheet(ctx, campaign_id)
    row = sheet.row(code)
    assert row is not None  # require_indicator found it
    buttons = [
        [
            Button(
                ctx.label("tombol/level", level=level, nama=scoring.level_name(sheet.framework, row.domain, level)),
                f"nil:l:{campaign_id}:{row.code}:{level}",
            )
        ]
        for level in scoring.LEVELS
    ]
    return ctx.reply("nilai/indikator", buttons=buttons, s=sheet, r=row)


async def _level_chosen(ctx: Context, campaign_id: int, code: str, level: int) -> Reply:
    scores.require_scorer(ctx.acting(scores.scoring_role(ctx.actor.roles)))
    session = await ctx.session()
    item = await scores.require_indicator(session, campaign_id, code)
    scores.require_level(level)
    await conversations.begin(
        session, ctx.request.channel, ctx.request.chat_id, person_id=ctx.me(), flow=SCORE, step=STEP_EXPLANATION,
        data={"campaign": campaign_id, "code": item.code, "level": level}, now=ctx.now,
    )  # fmt: skip
    sheet = await _sheet(ctx, campaign_id)
    row = sheet.row(item.code)
    assert row is not None
    name = scoring.level_name(sheet.framework, row.domain, level)
    return ctx.reply("nilai/tanya_penjelasan", r=row, level=level, nama=name)


async def score_flow(ctx: Context, state: FlowState) -> Reply:
    """The explanation, then (Pemdi 5-7) the source, then the confirmation with "Simpan nilai"."""
    data = dict(state.data)
    campaign_id, code, level = int(data["campaign"]), str(data["code"]), int(data["level"])
    text = ctx.request.text or ""
    if ctx.request.attachments or not text.strip():
        return ctx.reply("nilai/tanya_penjelasan_lagi" if state.step != STEP_SOURCE else "nilai/tanya_sumber")
    session = await ctx.session()
    sheet = await _sheet(ctx, campaign_id)
    row = sheet.row(code)
    if row is None:
        raise DomainError("umum/tombol_kedaluwarsa")
    if state.step == STEP_EXPLANATION:
        data["penjelasan"] = scores.clean_penjelasan(text)
        if row.needs_source:
            await conversations.advance(session, ctx.request.channel, ctx.request.chat_id, step=STEP_SOURCE, data=data,
                                        now=ctx.now)  # fmt: skip
            return ctx.reply("nilai/tanya_sumber", r=row)
    elif state.step == STEP_SOURCE:
        data["sumber"] = scores.clean_source(text)
    else:
        return ctx.reply("nilai/tekan_simpan")
    await conversations.advance(session, ctx.request.channel, ctx.request.chat_id, step=STEP_CONFIRM, data=data,
                                now=ctx.now)  # fmt: skip
    button = await actions.action_button(
        session, ctx.label("tombol/simpan_nilai"), kind="nil_simpan", person_id=ctx.me(), now=ctx.now,
        campaign=campaign_id, code=code, level=level,
    )  # fmt: skip
    level_name = scoring.level_name(sheet.framework, row.domain, level)
    return ctx.reply(
        "nilai/konfirmasi", buttons=[[button]], r=row, level=level, nama=level_name,
        penjelasan=data["penjelasan"], sumber=data.get("sumber"),
    )  # fmt: skip


async def save_action(ctx: Context, params: dict[str, Any]) -> Reply:
    """ "Simpan nilai": the score is recorded (audited) and the simulation shown again."""
    session = await ctx.session()
    state = await conversations.current(session, ctx.request.channel, ctx.request.chat_id)
    campaign_id, code, level = int(params["campaign"]), str(params["code"]), int(params["level"])
    if (
        state is None
        or state.flow != SCORE
        or state.step != STEP_CONFIRM
        or (state.data.get("campaign"), state.data.get("code"), state.data.get("level")) != (campaign_id, code, level)
    ):
        raise DomainError("umum/tombol_kedaluwarsa")  # /batal came first, or another indicator was started
    change = await scores.record_score(
        session, campaign_id, code, level, str(state.data.get("penjelasan", "")), source=state.data.get("sumber"),
        acting=ctx.acting(scores.scoring_role(ctx.actor.roles)), now=ctx.now,
    )  # fmt: skip
    await conversations.finish(session, ctx.request.channel, ctx.request.chat_id)
    sheet = await _sheet(ctx, campaign_id)
    position = next((n for n, r in enumerate(sheet.rows) if r.code == change.code), 0)
    buttons = [
        [Button(ctx.label("tombol/isi_nilai_lain"), f"nil:i:{campaign_id}:{position // PAGE_SIZE}")],
        [Button(ctx.label("tombol/ringkasan_nilai"), f"nil:k:{campaign_id}")],
    ]
    return ctx.reply("nilai/tercatat", buttons=buttons, s=sheet, r=sheet.row(change.code), c=change)


# -- the import ----------------------------------------------------------------------------------------------------


async def import_flow(ctx: Context, state: FlowState) -> Reply:
    """The scores file, checked as a whole: its rejections, or the counts with "Simpan hasil impor"."""
    campaign_id = int(state.data["campaign"])
    if state.step == STEP_CONFIRM and not ctx.request.attachments:
        return ctx.reply("nilai/tekan_simpan_impor")
    if not ctx.request.attachments:
        return ctx.reply("nilai/tanya_impor", s=await _sheet(ctx, campaign_id))
    attachment = ctx.request.attachments[0]
    name = uploads.clean_file_name(attachment.file_name, fallback="nilai.xlsx")
    staged = await attachment.fetch(ctx.services.files)
    try:  # the scores file is read, never kept
        lines, unreadable = _read_lines(staged.path, name)
    finally:
        ctx.services.files.discard(staged)
    session = await ctx.session()
    acting = ctx.acting(scores.scoring_role(ctx.actor.roles))
    if unreadable is not None:
        return _rejected(ctx, name, [unreadable])
    report = await score_import.import_scores(session, campaign_id, lines, acting=acting, now=ctx.now, dry_run=True)
    if not report.accepted:
        return _rejected(ctx, name, list(report.rejections))
    rows = [[line.line, line.indikator, line.level, line.penjelasan, line.sumber] for line in lines]
    await conversations.advance(
        session, ctx.request.channel, ctx.request.chat_id, step=STEP_CONFIRM,
        data={"campaign": campaign_id, "name": name, "rows": rows}, now=ctx.now,
    )  # fmt: skip
    button = await actions.action_button(
        session, ctx.label("tombol/simpan_impor_nilai"), kind="nil_impor", person_id=ctx.me(), now=ctx.now,
        campaign=campaign_id,
    )  # fmt: skip
    return ctx.reply("nilai/impor_diperiksa", buttons=[[button]], nama=name, laporan=report)


def _read_lines(path: Path, name: str) -> tuple[list[score_import.ScoreLine], Rejection | None]:
    """The parser reads by file extension; temp files are named at random, so give it a named link."""
    with tempfile.TemporaryDirectory() as folder:
        link = Path(folder) / f"nilai{Path(name).suffix.lower()}"
        os.symlink(path, link)
        try:
            return score_import.parse_score_file(link), None
        except score_import.ScoreFileError as error:
            return [], Rejection(1, "-", str(error), error.kind, tuple(error.values.items()))


def _rejected(ctx: Context, name: str, rejections: list[Rejection]) -> Reply:
    shown = rejections[:REJECTIONS_SHOWN]
    return ctx.reply("nilai/impor_ditolak", nama=name, rejections=shown, more=len(rejections) - len(shown))


async def import_action(ctx: Context, params: dict[str, Any]) -> Reply:
    """ "Simpan hasil impor": the checked rows are recorded (again all or nothing) and the simulation shown."""
    session = await ctx.session()
    state = await conversations.current(session, ctx.request.channel, ctx.request.chat_id)
    campaign_id = int(params["campaign"])
    if state is None or state.flow != IMPORT or state.step != STEP_CONFIRM or state.data.get("campaign") != campaign_id:
        raise DomainError("umum/tombol_kedaluwarsa")
    lines = [score_import.ScoreLine(int(n), str(c), str(lv), str(p), str(s)) for n, c, lv, p, s in state.data["rows"]]
    report = await score_import.import_scores(
        session, campaign_id, lines, acting=ctx.acting(scores.scoring_role(ctx.actor.roles)), now=ctx.now
    )
    name = str(state.data.get("name", ""))
    if not report.accepted:  # someone changed a score between the check and the press
        return _rejected(ctx, name, list(report.rejections))
    await conversations.finish(session, ctx.request.channel, ctx.request.chat_id)
    sheet = await _sheet(ctx, campaign_id)
    buttons = [[Button(ctx.label("tombol/ringkasan_nilai"), f"nil:k:{campaign_id}")]]
    return ctx.reply("nilai/impor_tersimpan", buttons=buttons, nama=name, laporan=report, s=sheet)


def register(registry_: Registry) -> None:
    registry_.command("nilai", nilai)
    registry_.button("nil", score_button)
    registry_.flow(SCORE, score_flow)
    registry_.flow(IMPORT, import_flow)
    registry_.action("nil_simpan", save_action, roles=scores.SCORERS)
    registry_.action("nil_impor", import_action, roles=scores.SCORERS)
