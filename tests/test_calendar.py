"""The working calendar: arithmetic on pinned dates, the package's holidays, and overrides kept in the database."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.conversation.templating import Renderer
from bot.errors import DomainError
from bot.services import identity
from bot.services.audit import Acting
from bot.services.calendar import (
    SOURCE_ADDED,
    SOURCE_CANCELLED,
    SOURCE_PACKAGE,
    HolidayChange,
    HolidayView,
    Override,
    WorkingCalendar,
    add_holiday,
    list_holidays,
    load_calendar,
    package_holidays,
    remove_holiday,
)
from storage.database import Database
from storage.models import AuditEntry, Channel, HolidayOverride
from tests.conftest import make_settings

WIB = ZoneInfo("Asia/Pontianak")
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=WIB)
KEMERDEKAAN = date(2026, 8, 17)  # Monday
ADDED = date(2026, 12, 31)  # Thursday, no holiday in the package


def at(day: int, hour: int, minute: int = 0, month: int = 8) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=WIB)


def calendar(**overrides: Override) -> WorkingCalendar:
    """08:00-16:00 in WIB with only 17 August as a holiday (pinned, whatever the package version says)."""
    return WorkingCalendar(
        zone=WIB,
        workday_start=time(8, 0),
        workday_end=time(16, 0),
        holidays={KEMERDEKAAN: "Hari Kemerdekaan Republik Indonesia"},
        overrides={date.fromisoformat(day): override for day, override in overrides.items()},
    )


# --- pure arithmetic -----------------------------------------------------------------------------------------


def test_weekends_and_holidays_are_not_working_days() -> None:
    cal = calendar()
    assert cal.is_working_day(date(2026, 8, 14))  # Friday
    assert not cal.is_working_day(date(2026, 8, 15)) and not cal.is_working_day(date(2026, 8, 16))
    assert not cal.is_working_day(KEMERDEKAAN)
    assert cal.is_working_day(date(2026, 8, 18))
    assert cal.holiday_name(KEMERDEKAAN) == "Hari Kemerdekaan Republik Indonesia"
    assert cal.holiday_name(date(2026, 8, 15)) is None  # a weekend is not a holiday
    assert cal.minutes_per_day == 480


def test_friday_afternoon_to_monday_morning_is_two_working_hours() -> None:
    cal = calendar()
    assert cal.working_minutes_between(at(7, 15), at(10, 9)) == 120
    # over the long weekend of 17 August the Monday does not count
    assert cal.working_minutes_between(at(14, 15), at(17, 9)) == 60
    assert cal.working_minutes_between(at(14, 15), at(18, 9)) == 120


def test_minutes_outside_hours_do_not_count_and_order_matters() -> None:
    cal = calendar()
    assert cal.working_minutes_between(at(10, 6), at(10, 20)) == 480
    assert cal.working_minutes_between(at(10, 16, 30), at(11, 7, 59)) == 0
    assert cal.working_minutes_between(at(11, 9), at(10, 9)) == 0
    assert cal.working_minutes_between(at(10, 9), at(10, 9)) == 0
    half = datetime(2026, 8, 10, 8, 0, 30, tzinfo=WIB)
    assert cal.working_minutes_between(half, at(10, 8, 2)) == 1  # whole minutes, rounded down
    # another zone is converted first: 01:00 UTC is 08:00 WIB
    assert cal.working_minutes_between(datetime(2026, 8, 10, 1, 0, tzinfo=UTC), at(10, 9)) == 60
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.working_minutes_between(datetime(2026, 8, 10, 8, 0), at(10, 9))


def test_working_days_between() -> None:
    cal = calendar()
    assert cal.working_days_between(at(3, 8), at(10, 8)) == 5.0
    assert cal.working_days_between(at(17, 8), at(24, 8)) == 4.0  # the week of 17 August
    assert cal.working_days_between(at(10, 8), at(10, 12)) == 0.5


def test_a_long_span_is_counted_per_day() -> None:
    cal = WorkingCalendar(zone=WIB, workday_start=time(8, 0), workday_end=time(16, 0))
    year = cal.working_minutes_between(datetime(2026, 1, 1, tzinfo=WIB), datetime(2027, 1, 1, tzinfo=WIB))
    decade = cal.working_minutes_between(datetime(2026, 1, 1, tzinfo=WIB), datetime(2036, 1, 1, tzinfo=WIB))
    assert year == 261 * 480  # 2026 starts on a Thursday: 52 full weeks and one more weekday
    assert decade > 10 * 260 * 480


def test_an_override_makes_a_holiday_a_working_day_and_adds_one() -> None:
    cal = calendar(**{"2026-08-17": Override(is_holiday=False), "2026-08-18": Override(True, "Cuti bersama")})
    assert cal.is_working_day(KEMERDEKAAN) and cal.holiday_name(KEMERDEKAAN) is None
    assert not cal.is_working_day(date(2026, 8, 18)) and cal.holiday_name(date(2026, 8, 18)) == "Cuti bersama"
    assert cal.working_minutes_between(at(14, 15), at(17, 9)) == 120
    assert cal.working_minutes_between(at(17, 8), at(19, 8)) == 480
    assert calendar(**{"2026-08-19": Override(True)}).holiday_name(date(2026, 8, 19)) == "Libur tambahan"


def test_add_working_minutes() -> None:
    cal = calendar()
    assert cal.add_working_minutes(at(14, 15), 60) == at(14, 16)  # a closing time is a valid answer
    assert cal.add_working_minutes(at(14, 15), 120) == at(18, 9)  # skips the weekend and 17 August
    assert cal.add_working_minutes(at(15, 12), 1) == at(18, 8, 1)
    assert cal.add_working_minutes(at(14, 20), 0) == at(14, 20)
    assert cal.add_working_minutes(datetime(2026, 8, 10, 2, 0, tzinfo=UTC), 30) == at(10, 9, 30)
    assert cal.add_working_minutes(at(10, 8), 5 * 480).tzinfo == WIB
    for start in (at(7, 15, 17), at(14, 6), at(16, 12)):
        for minutes in (1, 59, 480, 481, 2000):
            assert cal.working_minutes_between(start, cal.add_working_minutes(start, minutes)) == minutes
    with pytest.raises(ValueError, match="negative"):
        cal.add_working_minutes(at(10, 8), -1)


def test_next_working_moment() -> None:
    cal = calendar()
    assert cal.next_working_moment(at(10, 9, 30)) == at(10, 9, 30)
    assert cal.next_working_moment(at(10, 6)) == at(10, 8)
    assert cal.next_working_moment(at(10, 16)) == at(11, 8)
    assert cal.next_working_moment(at(14, 17)) == at(18, 8)  # Friday evening before 17 August
    assert cal.next_working_moment(datetime(2026, 8, 10, 0, 30, tzinfo=UTC)) == at(10, 8)


def test_the_working_day_must_end_after_it_starts() -> None:
    with pytest.raises(ValueError):
        WorkingCalendar(zone=WIB, workday_start=time(16, 0), workday_end=time(8, 0))


def test_the_package_knows_indonesian_holidays_and_cuti_bersama() -> None:
    known = package_holidays([2026])
    assert known.get(KEMERDEKAAN) == "Hari Kemerdekaan Republik Indonesia"
    assert any("Cuti Bersama" in name for name in known.values())  # the government category is on
    assert ADDED not in known
    assert date(2027, 8, 17) in known  # other years load when asked


def test_days_in_words_in_templates() -> None:
    renderer = Renderer(WIB)
    change = HolidayChange(KEMERDEKAAN, "Hari Kemerdekaan <RI>", "dibatalkan")
    text = renderer.render("libur/diubah", change=change)
    assert "Senin, 17 Agustus 2026" in text and "hari kerja" in text and "&lt;RI&gt;" in text
    listed = renderer.render(
        "libur/daftar",
        years=[(2026, [HolidayView(ADDED, "Cuti akhir tahun", SOURCE_ADDED)]), (2027, [])],
    )
    assert "Kamis, 31 Desember 2026 — Cuti akhir tahun <i>(tambahan)</i>" in listed
    assert "Belum ada hari libur" in listed


# --- overrides in the database ----------------------------------------------------------------------------------


@pytest.fixture
async def acting(db: Database) -> Acting:
    async with db.write() as session:
        person_id = await identity.ensure_local_person(session, Channel.CLI, "uji", NOW)
    return Acting(person_id=person_id, role="cli", channel=Channel.CLI.value)


async def change(db: Database, acting: Acting, verb: str, day: date, note: str | None = None) -> HolidayChange:
    async with db.write() as session:
        if verb == "add":
            return await add_holiday(session, day, note, acting=acting, now=NOW)
        return await remove_holiday(session, day, acting=acting, now=NOW)


async def refusal(db: Database, acting: Acting, verb: str, day: date, note: str | None = None) -> DomainError:
    with pytest.raises(DomainError) as raised:
        await change(db, acting, verb, day, note)
    return raised.value


async def listed(db: Database, tmp_path: Path, day: date) -> HolidayView | None:
    async with db.read() as session:
        views = await list_holidays(session, make_settings(tmp_path), day.year)
    assert [v.day for v in views] == sorted(v.day for v in views)
    return next((v for v in views if v.day == day), None)


async def test_add_and_remove_our_own_holiday(db: Database, acting: Acting, tmp_path: Path) -> None:
    added = await change(db, acting, "add", ADDED, "  Cuti akhir tahun ")
    assert added == HolidayChange(ADDED, "Cuti akhir tahun", "ditambahkan")
    assert await listed(db, tmp_path, ADDED) == HolidayView(ADDED, "Cuti akhir tahun", SOURCE_ADDED)
    async with db.read() as session:
        cal = await load_calendar(session, make_settings(tmp_path), [2026])
    assert not cal.is_working_day(ADDED) and cal.holiday_name(ADDED) == "Cuti akhir tahun"

    again = await refusal(db, acting, "add", ADDED)
    assert (again.template, again.params) == ("libur/sudah_libur", {"tanggal": ADDED, "nama": "Cuti akhir tahun"})

    assert await change(db, acting, "remove", ADDED) == HolidayChange(ADDED, "Cuti akhir tahun", "dihapus")
    assert await listed(db, tmp_path, ADDED) is None
    gone = await refusal(db, acting, "remove", ADDED)
    assert (gone.template, gone.params) == ("libur/bukan_libur", {"tanggal": ADDED})
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(HolidayOverride)) == 0


async def test_a_package_holiday_becomes_a_working_day_and_back(db: Database, acting: Acting, tmp_path: Path) -> None:
    assert await listed(db, tmp_path, KEMERDEKAAN) == HolidayView(
        KEMERDEKAAN, "Hari Kemerdekaan Republik Indonesia", SOURCE_PACKAGE
    )
    known = await refusal(db, acting, "add", KEMERDEKAAN, "lagi")
    assert known.template == "libur/sudah_libur" and known.params["nama"] == "Hari Kemerdekaan Republik Indonesia"

    cancelled = await change(db, acting, "remove", KEMERDEKAAN)
    assert cancelled == HolidayChange(KEMERDEKAAN, "Hari Kemerdekaan Republik Indonesia", "dibatalkan")
    assert await listed(db, tmp_path, KEMERDEKAAN) == HolidayView(KEMERDEKAAN, cancelled.name, SOURCE_CANCELLED)
    async with db.read() as session:
        row = await session.get(HolidayOverride, KEMERDEKAAN)
        cal = await load_calendar(session, make_settings(tmp_path), [2026])
    assert row is not None and not row.is_holiday and row.created_by_person_id == acting.person_id
    assert row.created_at == NOW
    assert cal.is_working_day(KEMERDEKAAN)
    assert (await refusal(db, acting, "remove", KEMERDEKAAN)).template == "libur/bukan_libur"

    restored = await change(db, acting, "add", KEMERDEKAAN)
    assert restored.effect == "dipulihkan"
    assert await listed(db, tmp_path, KEMERDEKAAN) == HolidayView(KEMERDEKAAN, restored.name, SOURCE_PACKAGE)
    async with db.read() as session:
        assert await session.get(HolidayOverride, KEMERDEKAAN) is None


async def test_changes_are_audited_and_refusals_are_not(db: Database, acting: Acting) -> None:
    await change(db, acting, "add", ADDED, "Cuti akhir tahun")
    await refusal(db, acting, "add", ADDED)
    await change(db, acting, "remove", KEMERDEKAAN)
    await refusal(db, acting, "remove", date(2026, 12, 30))
    too_long = await refusal(db, acting, "add", date(2026, 12, 30), "x" * 201)
    assert too_long.template == "libur/keterangan_terlalu_panjang"
    async with db.read() as session:
        entries = (await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
    assert [(e.action, e.object_type, e.object_id, e.actor_person_id) for e in entries] == [
        ("holiday_add", "holiday", "2026-12-31", acting.person_id),
        ("holiday_remove", "holiday", "2026-08-17", acting.person_id),
    ]
    assert json.loads(entries[0].details or "{}") == {"effect": "ditambahkan", "name": "Cuti akhir tahun"}


async def test_load_calendar_uses_the_working_hours(db: Database, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, MONEV_WORKDAY_START="07:30", MONEV_WORKDAY_END="15:30")
    async with db.read() as session:
        cal = await load_calendar(session, settings, [2026])
    assert (cal.zone, cal.minutes_per_day) == (WIB, 480)
    assert cal.next_working_moment(at(14, 16)) == at(18, 7, 30)
    # half an hour on 31 December, then New Year's Day (next year's holidays load on demand) and a weekend
    assert cal.add_working_minutes(at(31, 15, month=12), 60) == datetime(2027, 1, 4, 8, 0, tzinfo=WIB)
