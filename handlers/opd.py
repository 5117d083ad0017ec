"""`/opd`: the OPD registry with its liaisons; admins and the Kasi (de)activate OPDs with one-time buttons."""

from __future__ import annotations

from typing import Any

from bot.conversation import payloads
from bot.conversation.core import Button, Reply, page_of
from bot.conversation.handling import Context, Registry
from bot.errors import DomainError
from bot.services import access, actions, campaigns, people, registry


async def opd_command(ctx: Context) -> Reply:
    """`/opd` lists every OPD with its liaisons; `/opd KODE` shows one."""
    if ctx.request.args:
        return await _detail(ctx, ctx.request.args[0][:32].upper())
    return await _overview(ctx, page=0)


async def opd_button(ctx: Context) -> Reply:
    """`opd:p:N` pages the list, `opd:d:CODE` shows one OPD; both only for staff, whatever the data says."""
    data = ctx.request.payload or ""
    if not access.may_view_opd_registry(ctx.actor):
        raise DomainError("umum/tombol_bukan_untuk_anda", audit_action="forged_button", data=data[:64])
    press = payloads.parse_opd(data)
    if press is None:
        raise DomainError("umum/tombol_kedaluwarsa")
    if press.opd_code is not None:
        return await _detail(ctx, press.opd_code)
    return await _overview(ctx, page=press.page or 0)


async def _overview(ctx: Context, page: int) -> Reply:
    session = await ctx.session()
    opds = await registry.list_opds(session)
    liaisons = await people.liaisons_by_opd(session)
    buttons: list[list[Button]] = []
    if access.may_manage_opds(ctx.actor):
        buttons = _page_buttons(ctx, [o.code for o in opds], page)
    return ctx.reply(
        "opd/daftar",
        buttons=buttons,
        opds=opds,
        liaisons=liaisons,
        without=[o.code for o in opds if o.active and not liaisons.get(o.code)],
    )


def _page_buttons(ctx: Context, codes: list[str], page: int) -> list[list[Button]]:
    shown = page_of(len(codes), page, lambda n: f"opd:p:{n}", labels=ctx.services.paging_labels())
    rows = [[Button(ctx.label("tombol/opd", code=code), f"opd:d:{code}")] for code in codes[shown.start : shown.end]]
    return rows + ([list(shown.paging)] if shown.paging else [])


async def _detail(ctx: Context, code: str) -> Reply:
    session = await ctx.session()
    found = [o for o in await registry.list_opds(session) if o.code == code]
    if not found:
        raise DomainError("registry/opd_tidak_dikenal", code=code)
    opd = found[0]
    actor = ctx.actor
    buttons = []
    if actor.person_id is not None and access.may_manage_opds(actor):
        toggle = await actions.action_button(
            session,
            ctx.label("tombol/opd_nonaktifkan" if opd.active else "tombol/opd_aktifkan"),
            kind="opd_toggle",
            person_id=actor.person_id,
            now=ctx.now,
            code=opd.code,
            active=not opd.active,
        )
        buttons = [[toggle]]
    liaisons = (await people.liaisons_by_opd(session)).get(opd.code, [])
    return ctx.reply("opd/rincian", buttons=buttons, opd=opd, liaisons=liaisons)


async def toggle_opd(ctx: Context, params: dict[str, Any]) -> Reply:
    # The dispatcher re-read the presser's roles in this transaction: a manager's role is held.
    acting = ctx.acting(access.managing_role(ctx.actor))
    session, code = await ctx.session(), str(params["code"])
    if not params["active"] and not params.get("confirmed"):
        running = await campaigns.open_campaigns_of(session, code)
        if running:  # say first what deactivating means for the OPD in a running kegiatan, then confirm
            confirm = await actions.action_button(
                session,
                ctx.label("tombol/opd_nonaktifkan_ya"),
                kind="opd_toggle",
                person_id=ctx.me(),
                now=ctx.now,
                code=code,
                active=False,
                confirmed=True,
            )
            return ctx.reply("opd/nonaktif_tanya", buttons=[[confirm]], code=code, campaigns=running)
    opd = await registry.set_opd_active(session, code, bool(params["active"]), acting=acting, now=ctx.now)
    return ctx.reply("opd/diubah", opd=opd)


def register(registry_: Registry) -> None:
    registry_.command("opd", opd_command)
    registry_.button("opd", opd_button)
    registry_.action("opd_toggle", toggle_opd, roles=access.MANAGERS)
