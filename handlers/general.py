"""Everyone's commands: /help (/bantuan) and /batal (/start lives with registration in handlers.people)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial

from bot.conversation.commands import commands_for
from bot.conversation.core import Reply
from bot.conversation.handling import Context, FlowHandler, Registry
from bot.services import conversations, submissions


async def help_(ctx: Context) -> Reply:
    """List the commands the person's roles allow."""
    actor = ctx.actor
    commands = commands_for(actor.roles)
    helps = {c.name: ctx.services.renderer.plain(c.help_template) for c in commands}
    return ctx.reply("umum/bantuan", commands=commands, helps=helps, registered=actor.is_registered)


async def cancel(ctx: Context, cancellers: Mapping[str, FlowHandler]) -> Reply | Sequence[Reply]:
    """Leave the current flow, and the /kirim session; nothing they collected is kept."""
    session, request = await ctx.session(), ctx.request
    state = await conversations.current(session, request.channel, request.chat_id)
    left_flow = await conversations.finish(session, request.channel, request.chat_id)
    if state is not None and state.flow in cancellers:
        return await cancellers[state.flow](ctx, state)
    unfiled = None
    if ctx.actor.person_id is not None:
        unfiled = await submissions.cancel_chat_batches(
            session, request.channel, request.chat_id, ctx.actor.person_id, acting=ctx.acting(), now=ctx.now
        )
    if unfiled is not None:
        return ctx.reply("unggah/kirim_dibatalkan", count=unfiled)
    return ctx.reply("umum/dibatalkan" if left_flow else "umum/batal_kosong")


def register(registry: Registry) -> None:
    registry.command("help", help_)
    registry.command("batal", partial(cancel, cancellers=registry.cancellers))
