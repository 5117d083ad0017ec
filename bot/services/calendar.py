"""The working calendar: Mon-Fri within working hours, minus Indonesian holidays and cuti bersama, plus overrides.

Holidays come from the `holidays` package (country ID, categories public and government: the latter holds cuti
bersama); the database keeps local overrides (`monev libur`, `/libur`) for the years the package gets wrong.
`WorkingCalendar` does the arithmetic and is pure once built; the async functions read and change overrides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays as holidays_package
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import DomainError
from bot.services.audit import Acting, record
from bot.services.safe_text import display_text
from bot.settings import Settings
from storage.models import HolidayOverride

COUNTRY = "ID"
CATEGORIES = (holidays_package.PUBLIC, holidays_package.GOVERNMENT)
NOTE_MAX = 200
ADDED_HOLIDAY_NAME = "Libur tambahan"
# A search for working time gives up after this many days (a calendar with no working day at all).
_MAX_SEARCH_DAYS = 366 * 20

# Where a listed holiday comes from (HolidayView.source); shown to people as is.
SOURCE_PACKAGE = "paket"
SOURCE_ADDED = "tambahan"
SOURCE_CANCELLED = "hari kerja (dibatalkan)"


def package_holidays(years: Iterable[int]) -> Mapping[date, str]:
    """The package's holidays (names in Bahasa Indonesia); other years are filled in when first looked up."""
    return holidays_package.country_holidays(COUNTRY, years=list(years), categories=CATEGORIES, language="id")


@dataclass(frozen=True)
class Override:
    """A local change for one day: an added holiday (`is_holiday`) or a cancelled package holiday."""

    is_holiday: bool
    note: str | None = None


@dataclass(frozen=True)
class WorkingCalendar:
    """Working days and working minutes in local time; every moment taken or returned is timezone-aware."""

    zone: ZoneInfo
    workday_start: time
    workday_end: time
    holidays: Mapping[date, str] = field(default_factory=dict)
    overrides: Mapping[date, Override] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.workday_end <= self.workday_start:
            raise ValueError("the working day must end after it starts")

    @property
    def minutes_per_day(self) -> int:
        """Length of one working day in minutes (480 for 08:00-16:00)."""
        return self._minutes(self.workday_start, self.workday_end)

    def is_holiday(self, day: date) -> bool:
        """A holiday after overrides (whatever the weekday)."""
        override = self.overrides.get(day)
        return override.is_holiday if override is not None else day in self.holidays

    def is_working_day(self, day: date) -> bool:
        """Monday to Friday and not a holiday."""
        return day.weekday() < 5 and not self.is_holiday(day)

    def holiday_name(self, day: date) -> str | None:
        """The holiday's name, or None on a day that is not a holiday."""
        override = self.overrides.get(day)
        if override is not None:
            if not override.is_holiday:
                return None
            return override.note or self.holidays.get(day) or ADDED_HOLIDAY_NAME
        return self.holidays.get(day)

    def working_minutes_between(self, start: datetime, end: datetime) -> int:
        """Whole minutes inside working hours on working days between two moments; 0 if `end` is not later."""
        start, end = self._local(start), self._local(end)
        if end <= start:
            return 0
        seconds = 0.0
        day = start.date()
        while day <= end.date():
            if self.is_working_day(day):
                opens, closes = self._window(day)
                overlap = min(end, closes) - max(start, opens)
                seconds += max(overlap.total_seconds(), 0.0)
            day += timedelta(days=1)
        return int(seconds // 60)

    def working_days_between(self, start: datetime, end: datetime) -> float:
        """Working time between two moments in working days (480 working minutes = 1.0 for 08:00-16:00)."""
        return self.working_minutes_between(start, end) / self.minutes_per_day

    def add_working_minutes(self, start: datetime, minutes: int) -> datetime:
        """The earliest moment with `minutes` working minutes after `start` (it may be a closing time)."""
        if minutes < 0:
            raise ValueError("minutes must not be negative")
        moment = self._local(start)
        if minutes == 0:
            return moment
        remaining = timedelta(minutes=minutes)
        day = moment.date()
        for _ in range(_MAX_SEARCH_DAYS):
            if self.is_working_day(day):
                opens, closes = self._window(day)
                begin = max(moment, opens)
                if begin < closes:
                    if begin + remaining <= closes:
                        return begin + remaining
                    remaining -= closes - begin
            day += timedelta(days=1)
        raise ValueError("no working time found: is every day a holiday?")

    def next_working_moment(self, moment: datetime) -> datetime:
        """`moment` itself when it falls in working hours, otherwise when the next working day opens."""
        local = self._local(moment)
        day = local.date()
        for _ in range(_MAX_SEARCH_DAYS):
            if self.is_working_day(day):
                opens, closes = self._window(day)
                if local < closes:
                    return max(local, opens)
            day += timedelta(days=1)
        raise ValueError("no working time found: is every day a holiday?")

    def _window(self, day: date) -> tuple[datetime, datetime]:
        return (
            datetime.combine(day, self.workday_start, tzinfo=self.zone),
            datetime.combine(day, self.workday_end, tzinfo=self.zone),
        )

    def _local(self, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            raise ValueError("the working calendar needs timezone-aware moments")
        return moment.astimezone(self.zone)

    @staticmethod
    def _minutes(first: time, second: time) -> int:
        return (second.hour * 60 + second.minute) - (first.hour * 60 + first.minute)


@dataclass(frozen=True)
class HolidayView:
    """One line of the holiday list: the day, its name, and where it comes from (SOURCE_*)."""

    day: date
    name: str
    source: str


@dataclass(frozen=True)
class HolidayChange:
    """What `add_holiday` or `remove_holiday` did.

    `effect`: "ditambahkan" (a holiday added locally), "dipulihkan" (a cancelled package holiday restored),
    "dihapus" (a locally added holiday removed), "dibatalkan" (a package holiday made a working day).
    """

    day: date
    name: str
    effect: str


async def load_overrides(session: AsyncSession) -> dict[date, Override]:
    """Every override in the database (a handful of rows a year)."""
    rows = await session.scalars(select(HolidayOverride))
    return {row.day: Override(row.is_holiday, row.note) for row in rows}


async def load_calendar(session: AsyncSession, settings: Settings, years: Iterable[int]) -> WorkingCalendar:
    """The working calendar with the package's holidays for `years` (others load on demand) and every override."""
    return WorkingCalendar(
        zone=settings.timezone,
        workday_start=settings.workday_start,
        workday_end=settings.workday_end,
        holidays=package_holidays(years),
        overrides=await load_overrides(session),
    )


async def add_holiday(
    session: AsyncSession, day: date, note: str | None, *, acting: Acting, now: datetime
) -> HolidayChange:
    """Make `day` a holiday: restore a cancelled package holiday, or add one of our own."""
    note = display_text(note or "").strip() or None
    if note is not None and len(note) > NOTE_MAX:
        raise DomainError("libur/keterangan_terlalu_panjang", batas=NOTE_MAX, panjang=len(note))
    package_name = package_holidays([day.year]).get(day)
    override = await session.get(HolidayOverride, day)
    is_holiday = override.is_holiday if override is not None else package_name is not None
    if is_holiday:
        raise DomainError("libur/sudah_libur", tanggal=day, nama=_name(override, package_name))
    if package_name is not None:
        assert override is not None  # a package holiday that is not a holiday was cancelled by an override
        await session.delete(override)
        change = HolidayChange(day, package_name, "dipulihkan")
    else:
        _upsert(session, override, day, True, note, acting, now)
        change = HolidayChange(day, note or ADDED_HOLIDAY_NAME, "ditambahkan")
    await record(
        session,
        acting,
        "holiday_add",
        now,
        object_type="holiday",
        object_id=day.isoformat(),
        effect=change.effect,
        name=change.name,
    )
    return change


async def remove_holiday(session: AsyncSession, day: date, *, acting: Acting, now: datetime) -> HolidayChange:
    """Make `day` an ordinary day: delete our own holiday, or record a package holiday as a working day."""
    package_name = package_holidays([day.year]).get(day)
    override = await session.get(HolidayOverride, day)
    is_holiday = override.is_holiday if override is not None else package_name is not None
    if not is_holiday:
        raise DomainError("libur/bukan_libur", tanggal=day)
    name = _name(override, package_name)
    if package_name is not None:
        _upsert(session, override, day, False, None, acting, now)
        change = HolidayChange(day, name, "dibatalkan")
    else:
        assert override is not None
        await session.delete(override)
        change = HolidayChange(day, name, "dihapus")
    await record(
        session,
        acting,
        "holiday_remove",
        now,
        object_type="holiday",
        object_id=day.isoformat(),
        effect=change.effect,
        name=change.name,
    )
    return change


async def list_holidays(session: AsyncSession, settings: Settings, year: int) -> list[HolidayView]:
    """The year's holidays by date: the package's, ours, and package holidays cancelled into working days.

    `settings` is unused today (the country is fixed); it keeps the signature in step with `load_calendar`.
    """
    del settings
    package = package_holidays([year])
    views = {day: HolidayView(day, name, SOURCE_PACKAGE) for day, name in package.items() if day.year == year}
    rows = await session.scalars(
        select(HolidayOverride).where(
            HolidayOverride.day >= date(year, 1, 1), HolidayOverride.day <= date(year, 12, 31)
        )
    )
    for row in rows:
        if row.is_holiday and row.day not in package:
            views[row.day] = HolidayView(row.day, row.note or ADDED_HOLIDAY_NAME, SOURCE_ADDED)
        elif not row.is_holiday and row.day in package:
            views[row.day] = HolidayView(row.day, package[row.day], SOURCE_CANCELLED)
    return [views[day] for day in sorted(views)]


def _name(override: HolidayOverride | None, package_name: str | None) -> str:
    if override is not None and override.is_holiday and override.note:
        return override.note
    return package_name or ADDED_HOLIDAY_NAME


def _upsert(
    session: AsyncSession,
    override: HolidayOverride | None,
    day: date,
    is_holiday: bool,
    note: str | None,
    acting: Acting,
    now: datetime,
) -> None:
    if override is None:
        override = HolidayOverride(day=day)
        session.add(override)
    override.is_holiday = is_holiday
    override.note = note
    override.created_at = now
    override.created_by_person_id = acting.person_id
