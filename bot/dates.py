"""Dates typed by people (CONTRACT.md "Codes, dates, items"): `YYYY-MM-DD`, `DD-MM-YYYY`, `DD/MM/YYYY`.

A moment may add ` HH:MM` (or `HH.MM`, the Indonesian way); a date alone means 23:59 local time, the end of
that day. Pure functions: the caller passes the zone and echoes the result back in words.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

# Years outside this range are typing mistakes here (and would overflow time-zone arithmetic near year 1).
MIN_YEAR, MAX_YEAR = 2000, 2099
END_OF_DAY = time(23, 59)

_ISO = re.compile(r"(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})")
_LOCAL = re.compile(r"(?P<day>\d{1,2})(?P<sep>[-/])(?P<month>\d{1,2})(?P=sep)(?P<year>\d{4})")
_TIME = re.compile(r"(?P<hour>\d{1,2})[:.](?P<minute>\d{2})")


class DateParseError(ValueError):
    """Text that is not a date (or moment) in one of the accepted formats; the message says why, in English."""


def parse_day(text: str) -> date:
    """A calendar day: `YYYY-MM-DD`, `DD-MM-YYYY` or `DD/MM/YYYY`."""
    cleaned = text.strip()
    match = _ISO.fullmatch(cleaned) or _LOCAL.fullmatch(cleaned)
    if match is None:
        raise DateParseError(f"{cleaned!r} is not a date (use YYYY-MM-DD, DD-MM-YYYY or DD/MM/YYYY)")
    year, month, day = int(match["year"]), int(match["month"]), int(match["day"])
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise DateParseError(f"year {year} is out of range ({MIN_YEAR}-{MAX_YEAR})")
    try:
        return date(year, month, day)
    except ValueError:
        raise DateParseError(f"{cleaned!r} does not exist in the calendar") from None


def parse_time(text: str) -> time:
    """A clock time `HH:MM` or `HH.MM` (00:00-23:59)."""
    match = _TIME.fullmatch(text.strip())
    if match is None:
        raise DateParseError(f"{text.strip()!r} is not a time (use HH:MM)")
    hour, minute = int(match["hour"]), int(match["minute"])
    if hour > 23 or minute > 59:
        raise DateParseError(f"{text.strip()!r} is not a time of day")
    return time(hour, minute)


def parse_moment(text: str, zone: ZoneInfo) -> datetime:
    """A day with an optional time (a space or `T` between them), as an aware datetime in `zone`.

    Without a time it is 23:59 of that day: a deadline "on the 29th" lasts the whole day.
    """
    parts = text.strip().replace("T", " ", 1).split()
    if not parts or len(parts) > 2:
        raise DateParseError(f"{text.strip()!r} is not a date with an optional time (use YYYY-MM-DD HH:MM)")
    day = parse_day(parts[0])
    clock = parse_time(parts[1]) if len(parts) == 2 else END_OF_DAY
    return datetime.combine(day, clock, tzinfo=zone)
