"""`monev libur list|add|remove`: holidays and their local overrides from the command line (operators, English)."""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

from bot.app import MonevApp
from bot.cli.support import CliRejected, cli_acting, refusals_as_rejections
from bot.dates import MAX_YEAR, MIN_YEAR, DateParseError, parse_day
from bot.services import calendar

NAME = "libur"

_SOURCES = {
    calendar.SOURCE_PACKAGE: "package",
    calendar.SOURCE_ADDED: "added",
    calendar.SOURCE_CANCELLED: "cancelled",
}
_EFFECTS = {
    "ditambahkan": "is now a holiday",
    "dipulihkan": "is a holiday again",
    "dihapus": "is no longer a holiday (the added holiday was removed)",
    "dibatalkan": "is now a working day (the package's holiday is cancelled)",
}


def add_parser(commands: Any) -> None:
    """Add `monev libur ...` to the top-level subparsers."""
    group = commands.add_parser("libur", help="holidays and cuti bersama: list, add, remove (local overrides)")
    actions = group.add_subparsers(dest="libur_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="the year's holidays: the package's, added ones, cancelled ones")
    listing.add_argument("year", nargs="?", metavar="YEAR", help="default: the current year")
    adding = actions.add_parser("add", help="make a day a holiday (e.g. a new cuti bersama)")
    adding.add_argument("day", metavar="DATE", help="YYYY-MM-DD, DD-MM-YYYY or DD/MM/YYYY")
    adding.add_argument("--note", default=None, metavar="TEXT", help="what the holiday is, shown in /libur")
    removing = actions.add_parser("remove", help="make a holiday a working day (also one the package knows)")
    removing.add_argument("day", metavar="DATE", help="YYYY-MM-DD, DD-MM-YYYY or DD/MM/YYYY")


async def run(app: MonevApp, args: argparse.Namespace) -> int:
    """Run one `monev libur` action; returns the exit code."""
    if args.libur_command == "list":
        return await _list(app, _year(app, args.year))
    day = _day(args.day)
    acting = await cli_acting(app)
    with refusals_as_rejections(app):
        async with app.services.db.write() as session:
            if args.libur_command == "add":
                change = await calendar.add_holiday(session, day, args.note, acting=acting, now=app.now())
            else:
                change = await calendar.remove_holiday(session, day, acting=acting, now=app.now())
    print(f"{change.day.isoformat()} ({change.day:%A}) {_EFFECTS[change.effect]}: {change.name}")
    return 0


def _day(text: str) -> date:
    try:
        return parse_day(text)
    except DateParseError as error:
        raise CliRejected(f"bad date: {error}") from None


def _year(app: MonevApp, text: str | None) -> int:
    if text is None:
        return app.now().astimezone(app.settings.timezone).year
    if not text.isdigit() or not MIN_YEAR <= int(text) <= MAX_YEAR:
        raise CliRejected(f"bad year {text!r}: use a year from {MIN_YEAR} to {MAX_YEAR}")
    return int(text)


async def _list(app: MonevApp, year: int) -> int:
    async with app.services.db.read() as session:
        days = await calendar.list_holidays(session, app.settings, year)
    for holiday in days:
        print(f"{holiday.day.isoformat()}  {holiday.day:%a}  {_SOURCES[holiday.source]:<9}  {holiday.name}")
    if not days:
        print(f"no holidays known for {year}")
    return 0
