"""`/ingatkan [KODE_OPD|semua]`: a reminder now to one OPD or every OPD that still owes items (admin, Kasi)."""

from __future__ import annotations

from bot.conversation import payloads
from bot.conversation.core import Reply
from bot.conversation.handling import Context, Registry
from bot.services import reminders


async def ingatkan(ctx: Context) -> Reply:
    """Queue the reminders (the service checks the role, the campaign and the OPD) and say whom they went to."""
    target = payloads.parse_reminder_target(ctx.request.args)
    if target is None:
        return ctx.reply("pengingat/cara")
    result = await reminders.remind_now(
        await ctx.session(),
        ctx.services.settings,
        target.opd_code,
        acting=ctx.acting(reminders.reminding_role(ctx.actor.roles)),
        now=ctx.now,
    )
    return ctx.reply("pengingat/terkirim", r=result)


def register(registry_: Registry) -> None:
    registry_.command("ingatkan", ingatkan)
