"""Dates typed in chat and on the command line: the three formats, optional times, and what is refused."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.dates import DateParseError, parse_day, parse_moment

WIB = ZoneInfo("Asia/Pontianak")


@pytest.mark.parametrize("text", ["2026-05-29", "29-05-2026", "29/05/2026", " 29/5/2026 ", "2026-5-29"])
def test_the_three_formats_name_the_same_day(text: str) -> None:
    assert parse_day(text) == date(2026, 5, 29)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-05-29", datetime(2026, 5, 29, 23, 59, tzinfo=WIB)),
        ("29-05-2026 10:30", datetime(2026, 5, 29, 10, 30, tzinfo=WIB)),
        ("29/05/2026 8.05", datetime(2026, 5, 29, 8, 5, tzinfo=WIB)),
        ("2026-05-29  16:00", datetime(2026, 5, 29, 16, 0, tzinfo=WIB)),
        ("2026-05-29T00:00", datetime(2026, 5, 29, 0, 0, tzinfo=WIB)),
    ],
)
def test_moments_default_to_the_end_of_the_day(text: str, expected: datetime) -> None:
    moment = parse_moment(text, WIB)
    assert moment == expected
    assert moment.tzinfo is WIB and moment.utcoffset() == timedelta(hours=7)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("31-02-2026", "does not exist"),
        ("2026-13-01", "does not exist"),
        ("29-05-26", "not a date"),
        ("29.05.2026", "not a date"),
        ("29-05/2026", "not a date"),
        ("besok", "not a date"),
        ("", "not a date"),
        ("1999-12-31", "out of range"),
        ("2026-05-29 24:00", "not a time of day"),
        ("2026-05-29 10:60", "not a time of day"),
        ("2026-05-29 10", "not a time"),
        ("2026-05-29 10:00 WIB", "optional time"),
    ],
)
def test_anything_else_is_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(DateParseError, match=reason):
        parse_moment(text, WIB)


def test_a_day_takes_no_time_and_errors_are_value_errors() -> None:
    with pytest.raises(ValueError, match="not a date"):
        parse_day("2026-05-29 10:00")
