"""`/status`, `/riwayat`, `/item`: what an OPD has sent and what is still missing (kelengkapan, terverifikasi).

`/status` without an OPD, from staff or the Tim, is the campaign overview; its buttons use the prefix `sts:` (read
by bot.conversation.payloads.parse_overview): `sts:<campaign>:p:<page>` pages it, `sts:<campaign>:o:<OPD>` opens
that OPD's checklist. Every press is checked against the presser's roles now, whatever the data says.
"""

from __future__ import annotations

from bot.conversation import payloads
from bot.conversation.core import PAGE_SIZE, TITLE_LABEL_CHARS, Button, Reply, fit_label, page_of
from bot.conversation.handling import Context, Registry
from bot.errors import DomainError
from bot.services import access, campaigns, overview, submissions
from bot.services.submissions import Scope


async def status(ctx: Context) -> Reply:
    """The OPD's checklist with marks and both percentages; without an OPD, staff and the Tim get the overview."""
    if access.shows_overview(ctx.actor, ctx.request.args[0] if ctx.request.args else None):
        return await _overview_or_choice(ctx)
    scope = await _scope(ctx, "status")
    state = await submissions.progress(await ctx.session(), scope)
    return ctx.reply("unggah/status", p=state)


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
    scope = await submissions.scope_in(session, press.campaign_id, press.opd_code)
    if scope is None:
        raise DomainError("umum/tombol_kedaluwarsa")
    return ctx.reply("unggah/status", p=await submissions.progress(session, scope))


async def _overview_or_choice(ctx: Context) -> Reply:
    """The collecting campaign's overview, or first which campaign when more than one collects."""
    session = await ctx.session()
    running = await overview.collecting_campaigns(session)
    if not running:
        return ctx.reply("unggah/tidak_ada_kegiatan_berjalan")
    if len(running) == 1:
        return _overview_page(ctx, await overview.campaign_overview(session, running[0].campaign_id), 0)
    buttons = [
        [
            Button(
                fit_label(ctx.label("tombol/kampanye", id=c.campaign_id, title=c.title), TITLE_LABEL_CHARS),
                f"sts:{c.campaign_id}:p:0",
            )
        ]
        for c in running[:PAGE_SIZE]
    ]
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
    """Every version the OPD sent, newest first."""
    scope = await _scope(ctx, "riwayat")
    versions = await submissions.history(await ctx.session(), scope)
    return ctx.reply("unggah/riwayat", scope=scope, versions=versions)


async def item(ctx: Context) -> Reply:
    """What an item asks for (the expected evidence)."""
    if not ctx.request.args:
        return ctx.reply("unggah/cara_item")
    scope = await _scope(ctx, "item", args=ctx.request.args[1:])
    detail = await campaigns.campaign_detail(await ctx.session(), scope.campaign_id)
    wanted = ctx.request.args[0][:16].upper()
    number = payloads.parse_number(wanted, maximum=999)
    wanted = f"I.{number:02d}" if number is not None else wanted
    found = [i for i in detail.items if i.code == wanted]
    if not found:
        return ctx.reply("items/kode_tidak_dikenal", code=wanted[:16])
    return ctx.reply("items/rincian", item=found[0])


async def _scope(ctx: Context, command: str, args: tuple[str, ...] | None = None) -> Scope:
    """The collecting campaign of the OPD the sender may view (access.viewing_scope decides which)."""
    args = ctx.request.args if args is None else args
    code = access.viewing_scope(ctx.actor, args[0] if args else None, command=command)
    scope = await submissions.scope_for(await ctx.session(), code)
    if scope is None:
        raise DomainError("unggah/tidak_ada_kampanye", opd=code)
    return scope


def register(registry: Registry) -> None:
    registry.command("status", status)
    registry.button("sts", status_button)
    registry.command("riwayat", riwayat)
    registry.command("item", item)
