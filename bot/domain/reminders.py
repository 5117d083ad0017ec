"""The reminder schedule: which days an OPD is reminded, relative to its effective deadline, and when each is due.

H-7, H-3 and H-1 count calendar days back from the deadline's day; the deadline's day itself; then each working
day after it, up to `overdue_days`. A point on a day off moves to the previous working day, and points that land
on one day merge into one. Each point is due from the reminder time until the working day ends on its day, and
never later: a point missed in that window is skipped, not sent late.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# Calendar days before the deadline's day that get a reminder, furthest first.
DAYS_BEFORE = (7, 3, 1)
# A search for the previous working day gives up here (a calendar with no working day at all).
_MAX_BACK_DAYS = 366


@dataclass(frozen=True)
class SchedulePoint:
    """One reminder day: its labels ("H-7", "H-3", "H-1", "H", "T+1"…), merged when they share the day."""

    day: date
    labels: tuple[str, ...]
    overdue: int  # 0 up to the deadline's day; n on the n-th working day after it
    opens: datetime  # due from the reminder time...
    closes: datetime  # ...until the working day ends (its outbox rows expire then)

    @property
    def key(self) -> str:
        """The point in the reminder record's unique key: its day (an extension changes the deadline beside it)."""
        return self.day.isoformat()

    @property
    def label(self) -> str:
        """The most urgent label of the day (the last)."""
        return self.labels[-1]


def schedule_points(
    deadline: datetime,
    *,
    zone: ZoneInfo,
    is_working_day: Callable[[date], bool],
    reminder_time: time,
    workday_end: time,
    overdue_days: int,
) -> tuple[SchedulePoint, ...]:
    """Every point of the schedule for one effective deadline, in day order."""
    if deadline.tzinfo is None:
        raise ValueError("the deadline must be timezone-aware")
    deadline_day = deadline.astimezone(zone).date()
    wanted: list[tuple[date, str, int]] = [
        (_working_on_or_before(deadline_day - timedelta(days=n), is_working_day), f"H-{n}", 0) for n in DAYS_BEFORE
    ]
    wanted.append((_working_on_or_before(deadline_day, is_working_day), "H", 0))
    day = deadline_day
    for late in range(1, overdue_days + 1):
        day = _next_working(day, is_working_day)
        wanted.append((day, f"T+{late}", late))
    merged: dict[date, tuple[list[str], int]] = {}
    for point_day, label, late in wanted:
        labels, overdue = merged.setdefault(point_day, ([], 0))
        labels.append(label)
        merged[point_day] = (labels, max(overdue, late))
    return tuple(
        SchedulePoint(
            point_day,
            tuple(labels),
            overdue,
            datetime.combine(point_day, reminder_time, tzinfo=zone),
            datetime.combine(point_day, workday_end, tzinfo=zone),
        )
        for point_day, (labels, overdue) in sorted(merged.items())
    )


def due_point(points: Sequence[SchedulePoint], now: datetime, since: datetime) -> SchedulePoint | None:
    """The point whose window holds `now`, if any, and opened after `since` (the campaign opened).

    A point already open when the campaign opened is not due: the invitation with the deadline has just gone out.
    """
    return next((p for p in points if p.opens <= now < p.closes and p.opens >= since), None)


def missed_points(points: Sequence[SchedulePoint], now: datetime, since: datetime) -> list[SchedulePoint]:
    """Points whose whole window passed after `since` (the campaign opened) and before `now`."""
    return [p for p in points if p.closes <= now and p.opens >= since]


def next_point(points: Sequence[SchedulePoint], now: datetime) -> SchedulePoint | None:
    """The point due now or the next one to come; None once the schedule is over."""
    return next((p for p in points if now < p.closes), None)


def _working_on_or_before(day: date, is_working_day: Callable[[date], bool]) -> date:
    for _ in range(_MAX_BACK_DAYS):
        if is_working_day(day):
            return day
        day -= timedelta(days=1)
    raise ValueError("no working day found: is every day a holiday?")


def _next_working(day: date, is_working_day: Callable[[date], bool]) -> date:
    for _ in range(_MAX_BACK_DAYS):
        day += timedelta(days=1)
        if is_working_day(day):
            return day
    raise ValueError("no working day found: is every day a holiday?")
