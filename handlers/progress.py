"""`/status`, `/riwayat`, `/item`: what an OPD has sent and what is still missing (kelengkapan, terverifikasi)."""

from __future__ import annotations

from bot.conversation import payloads
from bot.conversation.core import Reply
from bot.conversation.handling import Context, Registry
from bot.errors import DomainError
from bot.services import access, campaigns, submissions
from bot.services.submissions import Scope


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
    """The collecting campaign of the OPD the sender may view (access.viewing_scope decides which)."""
    args = ctx.request.args if args is None else args
    code = access.viewing_scope(ctx.actor, args[0] if args else None, command=command)
    scope = await submissions.scope_for(await ctx.session(), code)
    if scope is None:
        raise DomainError("unggah/tidak_ada_kampanye", opd=code)
    return scope


def register(registry: Registry) -> None:
    registry.command("status", status)
    registry.command("riwayat", riwayat)
    registry.command("item", item)
