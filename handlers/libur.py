"""`/libur`: the holiday list, and adding or removing holidays (admin and Kasi; the command table checks)."""

from __future__ import annotations

from bot.conversation.core import Reply
from bot.conversation.handling import Context, Registry
from bot.dates import DateParseError, parse_day
from bot.errors import DomainError
from bot.services import access, calendar


async def libur(ctx: Context) -> Reply:
    """`/libur` lists the holidays; `/libur tambah TANGGAL [keterangan]` and `/libur hapus TANGGAL` change them."""
    args = ctx.request.args
    if not args:
        return await _list(ctx)
    verb = args[0].lower()
    if verb not in {"tambah", "hapus"} or len(args) < 2 or (verb == "hapus" and len(args) > 2):
        return ctx.reply("libur/cara")
    try:
        day = parse_day(args[1])
    except DateParseError:
        raise DomainError("libur/tanggal_tidak_sah", teks=args[1][:40]) from None
    acting = ctx.acting(access.managing_role(ctx.actor))  # the command table let only managers in
    session = await ctx.session()
    if verb == "tambah":
        change = await calendar.add_holiday(session, day, " ".join(args[2:]), acting=acting, now=ctx.now)
    else:
        change = await calendar.remove_holiday(session, day, acting=acting, now=ctx.now)
    return ctx.reply("libur/diubah", change=change)


async def _list(ctx: Context) -> Reply:
    today = ctx.now.astimezone(ctx.services.settings.timezone).date()
    # From December on, next year's cuti bersama matter too (they are announced late in the year).
    years = [today.year, today.year + 1] if today.month == 12 else [today.year]
    session = await ctx.session()
    listed = [(year, await calendar.list_holidays(session, ctx.services.settings, year)) for year in years]
    return ctx.reply("libur/daftar", years=listed)


def register(registry: Registry) -> None:
    registry.command("libur", libur)
