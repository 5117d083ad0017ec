"""The reminder schedule on pinned dates: weekends and a public holiday move points back, same-day points merge."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.reminders import SchedulePoint, due_point, missed_points, next_point, schedule_points
from bot.services.calendar import WorkingCalendar, package_holidays

WIB = ZoneInfo("Asia/Pontianak")
CALENDAR = WorkingCalendar(WIB, time(8), time(16), holidays=package_holidays([2025]))
MAULID = date(2025, 9, 5)  # Friday, Maulid Nabi Muhammad


def points(deadline: datetime, overdue_days: int = 3) -> tuple[SchedulePoint, ...]:
    return schedule_points(
        deadline,
        zone=WIB,
        is_working_day=CALENDAR.is_working_day,
        reminder_time=time(8),
        workday_end=time(16),
        overdue_days=overdue_days,
    )


def test_the_calendar_knows_the_holiday() -> None:
    assert not CALENDAR.is_working_day(MAULID)


def test_points_move_back_over_a_weekend_and_a_holiday_and_merge() -> None:
    # Deadline Monday 8 September 2025. H-7 is Monday 1st. H-3 (Friday 5th) is Maulid Nabi → Thursday 4th;
    # H-1 (Sunday 7th) → Saturday → Maulid → Thursday 4th too: the two merge into one point.
    schedule = points(datetime(2025, 9, 8, 16, 0, tzinfo=WIB))
    assert [(p.day, p.labels, p.overdue) for p in schedule] == [
        (date(2025, 9, 1), ("H-7",), 0),
        (date(2025, 9, 4), ("H-3", "H-1"), 0),
        (date(2025, 9, 8), ("H",), 0),
        (date(2025, 9, 9), ("T+1",), 1),
        (date(2025, 9, 10), ("T+2",), 2),
        (date(2025, 9, 11), ("T+3",), 3),
    ]
    merged = schedule[1]
    assert merged.label == "H-1" and merged.key == "2025-09-04"
    assert merged.opens == datetime(2025, 9, 4, 8, 0, tzinfo=WIB)
    assert merged.closes == datetime(2025, 9, 4, 16, 0, tzinfo=WIB)


def test_overdue_points_are_working_days_after_the_deadline() -> None:
    # Deadline Thursday 4 September: the first overdue working day is Monday 8th (Friday is Maulid Nabi).
    schedule = points(datetime(2025, 9, 4, 12, 0, tzinfo=WIB), overdue_days=2)
    assert [p.day for p in schedule if p.overdue] == [date(2025, 9, 8), date(2025, 9, 9)]
    assert [p.day for p in schedule if not p.overdue] == [
        date(2025, 8, 28),
        date(2025, 9, 1),
        date(2025, 9, 3),
        MAULID - timedelta(days=1),
    ]


def test_no_overdue_points_when_none_are_wanted() -> None:
    assert [p.label for p in points(datetime(2025, 9, 8, 16, 0, tzinfo=WIB), overdue_days=0)] == ["H-7", "H-1", "H"]


def test_a_deadline_on_a_day_off_is_reminded_on_the_working_day_before() -> None:
    # Saturday 6 September: its own point moves back past Maulid Nabi to Thursday 4th, where H-1 and H-3 are too.
    schedule = points(datetime(2025, 9, 6, 12, 0, tzinfo=WIB), overdue_days=1)
    assert [(p.day, p.labels) for p in schedule] == [
        (date(2025, 8, 29), ("H-7",)),
        (date(2025, 9, 3), ("H-3",)),
        (date(2025, 9, 4), ("H-1", "H")),
        (date(2025, 9, 8), ("T+1",)),
    ]


def test_a_point_is_due_from_reminder_time_until_the_workday_ends() -> None:
    schedule = points(datetime(2025, 9, 8, 16, 0, tzinfo=WIB))
    opened = datetime(2025, 8, 25, 9, 0, tzinfo=WIB)
    assert due_point(schedule, datetime(2025, 9, 1, 7, 59, tzinfo=WIB), opened) is None
    assert due_point(schedule, datetime(2025, 9, 1, 8, 0, tzinfo=WIB), opened) == schedule[0]
    assert due_point(schedule, datetime(2025, 9, 1, 15, 59, tzinfo=WIB), opened) == schedule[0]
    assert due_point(schedule, datetime(2025, 9, 1, 16, 0, tzinfo=WIB), opened) is None
    # Opened at 10:00 on H-7: the invitation has just said the deadline, that day's point is not due.
    assert due_point(schedule, datetime(2025, 9, 1, 10, 5, tzinfo=WIB), datetime(2025, 9, 1, 10, 0, tzinfo=WIB)) is None
    assert next_point(schedule, datetime(2025, 9, 1, 16, 0, tzinfo=WIB)) == schedule[1]
    assert next_point(schedule, datetime(2025, 9, 12, 8, 0, tzinfo=WIB)) is None


def test_missed_points_are_those_whose_window_passed_since_opening() -> None:
    schedule = points(datetime(2025, 9, 8, 16, 0, tzinfo=WIB))
    opened = datetime(2025, 8, 30, 9, 0, tzinfo=WIB)
    assert missed_points(schedule, datetime(2025, 9, 5, 9, 0, tzinfo=WIB), opened) == list(schedule[:2])
    assert missed_points(schedule, datetime(2025, 9, 5, 9, 0, tzinfo=WIB), datetime(2025, 9, 2, tzinfo=WIB)) == [
        schedule[1]
    ]


def test_a_naive_deadline_is_refused() -> None:
    with pytest.raises(ValueError):
        points(datetime(2025, 9, 8, 16, 0))
