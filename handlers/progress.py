"""`/status`, `/riwayat`, `/item`: what an OPD has sent and what is still missing (kelengkapan, terverifikasi).

`/status` without an OPD, from staff or the Tim, is the campaign overview; its buttons use the prefix `sts:` (read
by bot.conversation.payloads.parse_overview): `sts:<campaign>:p:<page>` pages it, `sts:<campaign>:o:<OPD>` opens
that OPD's checklist. Every press is checked against the presser's roles now, whatever the data says.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.conversation import payloads
from bot.conversation.core import PAGE_SIZE, Button, OutgoingDocument, Reply, page_of
from bot.conversation.handling import Context, Registry
from bot.errors import DomainError
from bot.services import access, campaigns, overview, questions, reminders, submissions
from bot.services.submissions import Scope


async def status(ctx: Context) -> Reply:
    """The OPD's checklist with marks and both percentages (asks which campaign when two are open).

    Without an OPD, staff and the Tim get the overview of the collecting campaign (or of the one `#ID` names).
    """
    words = payloads.campaign_ref(ctx.request.args)
    if access.shows_overview(ctx.actor, words.words[0] if words.words else None):
        if words.campaign_id is not None:
            return _overview_page(ctx, await overview.campaign_overview(await ctx.session(), words.campaign_id), 0)
        return await _overview_or_choice(ctx)
    return await _show_or_ask(ctx, "status", await _scopes(ctx, "status"))


async def status_button(ctx: Context) -> Reply:
    """`sts:` presses: a page of the overview or one OPD's checklist, for staff and the Tim whatever the data says."""
    data = ctx.request.payload or ""
    if not access.may_view_any_opd(ctx.actor):
        raise DomainError("umum/tombol_bukan_untuk_anda", audit_action="forged_button", data=data[:64])
    press = payloads.parse_overview(data)
    if press is None:
        raise DomainError("umum/tombol_kedaluwarsa")
    session = await ctx.session()
    if press.opd_code is None:
        return _overview_page(ctx, await overview.campaign_overview(session, press.campaign_id), press.page or 0)
    scope = await submissions.scope_in(session, press.opd_code, press.campaign_id)
    if scope is None:
        raise DomainError("umum/tombol_kedaluwarsa")
    state = await submissions.progress(session, scope)
    return ctx.reply("unggah/status", p=state, pengingat=await _next(ctx, state))


async def _overview_or_choice(ctx: Context) -> Reply:
    """The collecting campaign's overview, or first which campaign when more than one collects."""
    session = await ctx.session()
    running = await overview.collecting_campaigns(session)
    if not running:
        return ctx.reply("unggah/tidak_ada_kegiatan_berjalan")
    if len(running) == 1:
        return _overview_page(ctx, await overview.campaign_overview(session, running[0].campaign_id), 0)
    buttons = ctx.campaign_buttons(running, lambda cid: f"sts:{cid}:p:0")
    return ctx.reply("unggah/ringkasan_pilih_kegiatan", buttons=buttons)


def _overview_page(ctx: Context, view: overview.CampaignOverview, page: int) -> Reply:
    cid = view.campaign_id
    shown = page_of(len(view.standings), page, lambda n: f"sts:{cid}:p:{n}", labels=ctx.services.paging_labels())
    on_page = view.standings[shown.start : shown.end]
    rows = [[Button(ctx.label("tombol/opd_ringkasan", s=s), f"sts:{cid}:o:{s.opd_code}", s.opd_name)] for s in on_page]
    if shown.paging:
        rows.append(list(shown.paging))
    return ctx.reply(
        "unggah/ringkasan",
        buttons=rows,
        o=view,
        shown=on_page,
        first=shown.start + 1,
        page=shown.number + 1,
        pages=shown.count,
    )


async def riwayat(ctx: Context) -> Reply:
    """Every version the OPD sent, newest first (asks which campaign when two are open)."""
    return await _show_or_ask(ctx, "riwayat", await _scopes(ctx, "riwayat"))


async def _show_or_ask(ctx: Context, command: str, scopes: list[Scope]) -> Reply:
    if len(scopes) == 1:
        return await _show(ctx, command, scopes[0])
    view = "s" if command == "status" else "r"
    buttons = [
        [
            Button(
                ctx.label("tombol/kegiatan", id=s.campaign_id, title=s.title),
                f"sta:{view}:{s.campaign_id}:{s.opd_code}",
            )
        ]
        for s in scopes[:PAGE_SIZE]
    ]
    return ctx.reply(
        "unggah/pilih_kegiatan_lihat",
        buttons=buttons,
        opd=scopes[0].opd_name,
        perintah=command,
        example_id=scopes[-1].campaign_id,
    )


async def _show(ctx: Context, command: str, scope: Scope) -> Reply:
    session = await ctx.session()
    if command == "status":
        state = await submissions.progress(session, scope)
        latest = [(i.code, i.latest) for i in state.items if i.latest is not None]
        return ctx.reply(
            "unggah/status", buttons=_file_buttons(ctx, scope, latest), p=state, pengingat=await _next(ctx, state)
        )
    versions = await submissions.history(session, scope)
    shown = [(v.item_code, v.number) for v in versions]
    asked = await questions.opd_questions(session, scope.opd_id)
    return ctx.reply(
        "unggah/riwayat", buttons=_file_buttons(ctx, scope, shown), scope=scope, versions=versions, pertanyaan=asked
    )


async def _next(ctx: Context, state: submissions.Progress) -> reminders.SchedulePoint | None:
    """The OPD's next reminder point, shown under its deadline."""
    return await reminders.next_reminder(await ctx.session(), ctx.services.settings, state, ctx.now)


def _file_buttons(ctx: Context, scope: Scope, versions: list[tuple[str, int]]) -> list[list[Button]]:
    """Staff and the Tim open what an OPD sent: a button per version (the newest seven) sends its files back."""
    if not access.may_view_any_opd(ctx.actor):
        return []  # a liaison has the files already
    return [
        [
            Button(
                ctx.label("tombol/buka_berkas", code=code, number=number),
                f"berkas:{scope.campaign_id}:{scope.opd_code}:{code}:{number}",
            )
        ]
        for code, number in versions[:PAGE_SIZE]
    ]


async def files_button(ctx: Context) -> list[Reply]:
    """`berkas:` presses: the version's files, each sent back as a document, for staff and the Tim only."""
    data = ctx.request.payload or ""
    if not access.may_view_any_opd(ctx.actor):
        raise DomainError("umum/tombol_bukan_untuk_anda", audit_action="forged_button", data=data[:64])
    press = payloads.parse_version_files(data)
    if press is None:
        raise DomainError("umum/tombol_kedaluwarsa")
    session = await ctx.session()
    scope = await submissions.scope_in(session, press.opd_code, press.campaign_id, viewing=True)
    files = await submissions.version_files(session, scope, press.item_code, press.number) if scope else []
    if not files:
        raise DomainError("umum/tombol_kedaluwarsa")
    return file_replies(files)


def file_replies(files: Sequence[submissions.ReceiptFile]) -> list[Reply]:
    """Stored files sent back as documents, each captioned with its own name (`/tinjau`, `/riwayat`, `/status`)."""
    return [Reply(f.name, document=OutgoingDocument(f.sha256, f.name, f.name)) for f in files]


async def progress_button(ctx: Context) -> Reply:
    """The answer to "which campaign?" of `/status` or `/riwayat`: checked again as the command would check it."""
    press = payloads.parse_progress(ctx.request.payload or "")
    if press is None:
        raise DomainError("umum/tombol_kedaluwarsa")
    if not access.may_use_command(ctx.actor, press.view):
        raise DomainError("umum/tidak_berwenang", name=press.view, registered=ctx.actor.is_registered)
    code = access.viewing_scope(ctx.actor, press.opd_code, command=press.view)
    scope = await submissions.scope_in(await ctx.session(), code, press.campaign_id, viewing=True)
    if scope is None:
        raise DomainError("unggah/kegiatan_tidak_dikenal", id=press.campaign_id)
    return await _show(ctx, press.view, scope)


async def item(ctx: Context) -> Reply:
    """What an item asks for (the expected evidence)."""
    if not ctx.request.args:
        return ctx.reply("unggah/cara_item", example=await submissions.example_item(await ctx.session(), ctx.actor))
    scope = (await _scopes(ctx, "item", args=ctx.request.args[1:]))[0]  # the newest open campaign's item
    detail = await campaigns.campaign_detail(await ctx.session(), scope.campaign_id)
    wanted = ctx.request.args[0][:16].upper()
    number = payloads.parse_number(wanted, maximum=999)
    wanted = f"I.{number:02d}" if number is not None else wanted
    found = [
        seen for i in detail.items if i.code == wanted and (seen := access.item_as_seen(ctx.actor, i, scope.opd_code))
    ]
    if not found:
        example = await submissions.example_item(await ctx.session(), ctx.actor)
        return ctx.reply("items/kode_tidak_dikenal", code=wanted[:16], example=example)
    return ctx.reply("items/rincian", item=found[0])


async def _scopes(ctx: Context, command: str, args: tuple[str, ...] | None = None) -> list[Scope]:
    """Where to look: the OPD the sender may view (access.viewing_scope decides which) in the campaign an `#ID`
    names (in any state since it opened, so older evidence stays reachable), else in its open campaigns (two or
    more: the caller asks which), else its latest."""
    words = payloads.campaign_ref(ctx.request.args if args is None else args)
    code = access.viewing_scope(ctx.actor, words.words[0] if words.words else None, command=command)
    session = await ctx.session()
    if words.campaign_id is not None:
        named = await submissions.scope_in(session, code, words.campaign_id, viewing=True)
        if named is None:
            raise DomainError("unggah/kegiatan_tidak_dikenal", id=words.campaign_id)
        return [named]
    scopes = await submissions.open_scopes(session, code)
    if not scopes:
        raise DomainError("unggah/tidak_ada_kampanye", opd=code)
    return scopes


def register(registry: Registry) -> None:
    registry.command("status", status)
    registry.button("sts", status_button)
    registry.command("riwayat", riwayat)
    registry.command("item", item)
    registry.button("sta", progress_button)
    registry.button("berkas", files_button)
