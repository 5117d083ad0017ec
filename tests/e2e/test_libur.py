"""`/libur` end to end: an admin adds and removes a holiday, the Kasi may use it too, a liaison is refused."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cli.support import cli_acting
from bot.conversation.templating import day_in_words
from bot.services import registry
from bot.services.calendar import package_holidays
from storage.models import AuditEntry, Role
from tests.e2e.harness import RunningBot, bot_settings, outbox_idle, registered, running_bot, say
from tests.fake_telegram.server import FakeBotAPI

pytestmark = pytest.mark.e2e


def next_ordinary_day(today: date) -> date:
    """The first weekday after today that the package does not list: always in the list /libur shows."""
    known = package_holidays([today.year, today.year + 1])
    day = today + timedelta(days=1)
    while day.weekday() >= 5 or day in known:
        day += timedelta(days=1)
    return day


async def import_opds(bot: RunningBot) -> None:
    acting = await cli_acting(bot.app)
    rows = registry.parse_opd_file(registry.default_opd_file())
    async with bot.app.services.db.write() as session:
        await registry.import_opds(session, rows, acting=acting, now=bot.app.now(), dry_run=False, file_name="opd")


async def test_admin_adds_and_removes_a_holiday_and_a_liaison_is_refused(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    async with running_bot(bot_settings(fake_telegram, tmp_path)) as bot:
        await import_opds(bot)
        liaison = await registered(fake_telegram, bot, 200, Role.OPD, "DISKOMINFO")
        admin = await registered(fake_telegram, bot, 100, Role.ADMIN)
        kasi = await registered(fake_telegram, bot, 101, Role.KASI)
        # No registration notice may arrive between a command and its reply: the journal and the outbox are idle.
        await bot.wait_idle()
        await outbox_idle(bot.app.services.db)
        day = next_ordinary_day(bot.app.now().date())
        in_words = day_in_words(day)

        (added,) = await say(fake_telegram, admin, f"/libur tambah {day:%d/%m/%Y} Cuti bersama khusus")
        assert f"{in_words} sekarang hari libur: Cuti bersama khusus" in added
        (listing,) = await say(fake_telegram, admin, "/libur")
        assert f"Hari libur dan cuti bersama {day.year}" in listing
        assert f"{in_words} — Cuti bersama khusus (tambahan)" in listing
        (twice,) = await say(fake_telegram, kasi, f"/libur tambah {day:%Y-%m-%d}")
        assert "sudah hari libur (Cuti bersama khusus)" in twice

        (removed,) = await say(fake_telegram, admin, f"/libur hapus {day:%d-%m-%Y}")
        assert f"Libur tambahan pada {in_words} (Cuti bersama khusus) dihapus" in removed
        (bad,) = await say(fake_telegram, kasi, "/libur tambah 31-02-2026")
        assert "Tanggal 31-02-2026 tidak dikenali" in bad

        (usage,) = await say(fake_telegram, kasi, "/libur geser 2026-12-31")
        assert "Cara memakai /libur" in usage
        (refused,) = await say(fake_telegram, liaison, f"/libur tambah {day:%Y-%m-%d}")
        assert "tidak tersedia untuk peran Anda" in refused

        await bot.wait_idle()
        async with bot.app.services.db.read() as session:
            entries = (await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
        holidays = [(e.action, e.role, e.object_id, e.channel) for e in entries if e.action.startswith("holiday_")]
        assert holidays == [
            ("holiday_add", "admin", day.isoformat(), "telegram"),
            ("holiday_remove", "admin", day.isoformat(), "telegram"),
        ]
        assert json.loads(entries[-1].details or "{}")["args"] == ["tambah", day.isoformat()]
        assert [e.object_id for e in entries if e.action == "command_refused"] == ["libur"]
