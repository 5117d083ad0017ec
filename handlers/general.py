"""Everyone's commands: /help (/bantuan) and /batal (/start lives with registration in handlers.people)."""

from __future__ import annotations

from bot.conversation.commands import commands_for
from bot.conversation.core import Reply
from bot.conversation.handling import Context, Registry
from bot.services import conversations


async def help_(ctx: Context) -> Reply:
    """List the commands the person's roles allow."""
    actor = ctx.actor
    commands = commands_for(actor.roles)
    helps = {c.name: ctx.services.renderer.plain(c.help_template) for c in commands}
    return ctx.reply("umum/bantuan", commands=commands, helps=helps, registered=actor.is_registered)


async def cancel(ctx: Context) -> Reply:
    """Leave the current flow; nothing it collected is kept."""
    if await conversations.finish(await ctx.session(), ctx.request.channel, ctx.request.chat_id):
        return ctx.reply("umum/dibatalkan")
    return ctx.reply("umum/batal_kosong")


def register(registry: Registry) -> None:
    registry.command("help", help_)
    registry.command("batal", cancel)
