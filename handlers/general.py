"""Everyone's commands: /start, /help (/bantuan), /batal."""

from __future__ import annotations

from bot.commands import commands_for
from bot.core import Reply
from bot.handling import Context, Registry


def _roles(ctx: Context) -> list[str]:
    assert ctx.request.actor is not None
    return sorted(role.value for role in ctx.request.actor.roles)


async def start(ctx: Context) -> Reply:
    """Welcome the person; registration by deep-link code joins with the people-access issue."""
    actor = ctx.request.actor
    assert actor is not None
    return ctx.reply(
        "umum/mulai",
        name=ctx.request.sender_name,
        registered=actor.is_registered,
        roles=_roles(ctx),
    )


async def help_(ctx: Context) -> Reply:
    """List the commands the person's roles allow."""
    actor = ctx.request.actor
    assert actor is not None
    return ctx.reply("umum/bantuan", commands=commands_for(actor.roles), registered=actor.is_registered)


async def cancel(ctx: Context) -> Reply:
    """Leave the current flow; no flow can be open yet, so say there is nothing to cancel."""
    return ctx.reply("umum/batal_kosong")


def register(registry: Registry) -> None:
    registry.command("start", start)
    registry.command("help", help_)
    registry.command("batal", cancel)
