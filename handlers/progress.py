"""`/status`, `/riwayat`, `/item`: what an OPD has sent and what is still missing (kelengkapan, terverifikasi)."""

from __future__ import annotations

from bot import payloads
from bot.commands import STAFF
from bot.core import Reply
from bot.errors import DomainError
from bot.handling import Context, Registry
from bot.services import campaigns, submissions
from bot.services.submissions import Scope
from storage.models import Role

VIEW_ANY = STAFF | {Role.TIM}


async def status(ctx: Context) -> Reply:
    """The OPD's checklist with marks and both percentages."""
    scope = await _scope(ctx, "status")
    state = await submissions.progress(await ctx.session(), scope)
    return ctx.reply("unggah/status", p=state)


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
    """A liaison sees only their own OPD, whatever they type; staff and the Tim name any OPD."""
    actor = ctx.actor
    args = ctx.request.args if args is None else args
    own = sorted({a.opd_code for a in actor.assignments if a.role == Role.OPD and a.opd_code})
    asked = args[0].upper() if args else None
    if actor.roles & VIEW_ANY:
        code = asked or (own[0] if len(own) == 1 else None)
        if code is None:
            raise DomainError("unggah/sebutkan_opd", perintah=command)
    else:
        if asked and asked not in own:
            raise DomainError("unggah/bukan_opd_anda", audit_action="other_opd_refused", opd=asked[:32])
        if len(own) != 1 and not asked:
            raise DomainError("unggah/pilih_opd", codes=own)
        code = asked or own[0]
    scope = await submissions.scope_for(await ctx.session(), code)
    if scope is None:
        raise DomainError("unggah/tidak_ada_kampanye", opd=code)
    return scope


def register(registry: Registry) -> None:
    registry.command("status", status)
    registry.command("riwayat", riwayat)
    registry.command("item", item)
