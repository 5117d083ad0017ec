"""Reminders through the real scheduler host and transport, on pinned days of September 2025 (the clock is moved,
never today's date): the full schedule across a weekend and Maulid Nabi (Friday 5th), a merged point, nothing for
a complete OPD, escalation to the Kepala OPD, an extension moving the points, the bot down in the morning or for a
whole working day, a real restart, and `/ingatkan`."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.services import identity, invites
from bot.services.audit import Acting
from bot.settings import Settings
from jobs import reminder_tick
from storage.database import Database
from storage.models import AuditEntry, OutboxMessage, Reminder, Role
from tests.e2e.both_channels import WhatsAppChatter, plain
from tests.e2e.broadcast_world import PDF, World, open_broadcast, register_one
from tests.e2e.harness import (
    ROOT,
    BotProcess,
    MovableClock,
    RunningBot,
    bot_settings,
    outbox_idle,
    running_bot,
    telegram_env,
)
from tests.e2e.test_intake import next_texts
from tests.e2e.test_meetings import both_settings
from tests.e2e.test_review import text_containing
from tests.fake_telegram.actors import FakeUser
from tests.fake_telegram.server import FakeBotAPI
from tests.fake_whatsapp import FakeWhatsAppAPI

pytestmark = pytest.mark.e2e

WIB = ZoneInfo("Asia/Pontianak")
OPENED = datetime(2025, 8, 25, 9, 0, tzinfo=WIB)  # a Monday
DEADLINE = datetime(2025, 9, 8, 16, 0, tzinfo=WIB)  # the Monday after Maulid Nabi (Friday 5 September)
DEADLINE_WORDS = "Senin, 8 September 2025 pukul 16.00 WIB"
HEAD_CHAT = 700_001
REMINDER = "Pengingat pengumpulan data dukung"
ESCALATION = "Pemberitahuan keterlambatan"


@dataclass
class Town:
    settings: Settings
    world: World
    dinkes: FakeUser
    bpbd: FakeUser
    head: FakeUser  # the Kepala OPD of DINKES
    kasi: FakeUser


async def town(fake: FakeBotAPI, tmp_path: Path) -> Town:
    """An open campaign (deadline Monday 8 September 2025) for DINKES and BPBD, one liaison each, DINKES' head."""
    settings = bot_settings(fake, tmp_path, MONEV_OVERDUE_REMINDER_DAYS="2")
    world = await open_broadcast(settings, {"DINKES": 1, "BPBD": 1}, now=OPENED, deadline=DEADLINE)
    db = Database(settings.database_url)
    try:
        async with db.write() as session:
            cli = Acting(await identity.ensure_local_person(session, "cli", "setup", OPENED), "cli", "cli")
            await register_one(session, Role.KEPALA_OPD, "DINKES", HEAD_CHAT, cli, OPENED)
    finally:
        await db.dispose()
    by_opd = {opd: fake.user(chat) for chat, opd in world.liaisons.items()}
    for other in (900_002, world.uploader_chat):
        fake.user(other)
    return Town(settings, world, by_opd["DINKES"], by_opd["BPBD"], fake.user(HEAD_CHAT), fake.user(900_001))


def clock_at(moment: datetime) -> MovableClock:
    clock = MovableClock()
    set_clock(clock, moment)
    return clock


def set_clock(clock: MovableClock, moment: datetime) -> None:
    clock.offset = moment - datetime.now(UTC)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=WIB)


def texts(fake: FakeBotAPI, user: FakeUser, part: str) -> list[str]:
    return [m.get("text") or "" for m in fake.sent_messages(user.id) if part in (m.get("text") or "")]


async def tick(bot: RunningBot, clock: MovableClock, moment: datetime) -> None:
    """Move the clock, run the tick on the scheduler host, wait until the dispatcher has sent what it queued."""
    set_clock(clock, moment)
    await bot.app.scheduler.run_now(reminder_tick.NAME, bot.app.now())
    await outbox_idle(bot.app.services.db)


async def settled(fake: FakeBotAPI, t: Town) -> None:
    """The invitations have gone out (two messages each: the letter and the invitation)."""
    for user in (t.dinkes, t.bpbd):
        await fake.wait_for_messages(user.id, 2, timeout=15)


async def reminders_in_db(settings: Settings) -> dict[tuple[str, str], str]:
    db = Database(settings.database_url)
    try:
        async with db.read() as session:
            rows = (await session.scalars(select(Reminder).order_by(Reminder.id))).all()
            return {(str(r.opd_id), r.point): r.state for r in rows}
    finally:
        await db.dispose()


async def test_a_full_schedule_across_a_weekend_and_a_holiday(fake_telegram: FakeBotAPI, tmp_path: Path) -> None:
    t = await town(fake_telegram, tmp_path)
    clock = clock_at(OPENED)
    async with running_bot(t.settings, clock) as bot:
        await settled(fake_telegram, t)
        (receipt,) = await next_texts(
            fake_telegram, t.bpbd, 1, lambda: t.bpbd.send_document(PDF, "sk.pdf", caption="I.01")
        )
        assert "Versi: 1" in receipt  # BPBD is complete from here on
        reminded: dict[date, list[str]] = {}
        escalated: dict[date, list[str]] = {}
        for n in range(20):  # Monday 25 August to Saturday 13 September
            day = OPENED.date() + timedelta(days=n)
            before = (len(texts(fake_telegram, t.dinkes, REMINDER)), len(texts(fake_telegram, t.head, ESCALATION)))
            for hour in (7, 9, 15):  # before the window, then twice inside it
                await tick(bot, clock, at(day, hour))
            if new := texts(fake_telegram, t.dinkes, REMINDER)[before[0] :]:
                reminded[day] = new
            if new := texts(fake_telegram, t.head, ESCALATION)[before[1] :]:
                escalated[day] = new

    # H-7 Monday 1st; H-3 (Friday 5th, Maulid Nabi) and H-1 (Sunday 7th) both on Thursday 4th, as one message;
    # the deadline's day; then two overdue working days. One message each, whatever the number of ticks.
    assert sorted(reminded) == [date(2025, 9, d) for d in (1, 4, 8, 9, 10)]
    assert all(len(sent) == 1 for sent in reminded.values())
    first = reminded[date(2025, 9, 1)][0]
    assert f"Tenggat Dinas Kesehatan Kota Pontianak: {DEADLINE_WORDS}" in first
    assert "Belum dikirim (1)" in first and "I.01" in first and "terlambat" not in first
    late = reminded[date(2025, 9, 9)][0]
    assert f"terlambat sejak {DEADLINE_WORDS}" in late and "I.01" in late
    # The Kepala OPD from the first overdue point on; the complete OPD gets nothing.
    assert sorted(escalated) == [date(2025, 9, 9), date(2025, 9, 10)]
    assert "Yth. Bapak/Ibu Kepala OPD" in escalated[date(2025, 9, 9)][0]
    assert "• I.01 Kebijakan internal SPBE\nMohon arahan" in escalated[date(2025, 9, 9)][0]
    assert texts(fake_telegram, t.bpbd, REMINDER) == []
    recorded = await reminders_in_db(t.settings)
    assert sorted(point for _, point in recorded) == [
        "2025-09-01",
        "2025-09-04",
        "2025-09-08",
        "2025-09-09",
        "2025-09-10",
    ]
    assert set(recorded.values()) == {"sent"}


async def test_an_extension_moves_the_points_and_status_and_kegiatan_show_them(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    t = await town(fake_telegram, tmp_path)
    clock = clock_at(at(date(2025, 9, 4), 9))
    async with running_bot(t.settings, clock) as bot:
        await settled(fake_telegram, t)
        await tick(bot, clock, at(date(2025, 9, 4), 9, 5))
        assert len(texts(fake_telegram, t.dinkes, REMINDER)) == 1
        (status,) = await next_texts(fake_telegram, t.dinkes, 1, lambda: t.dinkes.send_text("/status"))
        assert "Pengingat berikutnya: Senin, 8 September 2025 pukul 08.00 WIB" in status

        t.kasi.send_text("/perpanjang DINKES 2025-09-19 16:00 surat Kepala Dinas")
        await text_containing(fake_telegram, t.kasi.id, "diperpanjang menjadi")
        await text_containing(fake_telegram, t.dinkes.id, "Tenggat diperpanjang")
        (status,) = await next_texts(fake_telegram, t.dinkes, 1, lambda: t.dinkes.send_text("/status"))
        # New points: H-7 Friday 12th, H-3 Tuesday 16th, H-1 Thursday 18th, the deadline Friday 19th.
        assert "Pengingat berikutnya: Jumat, 12 September 2025 pukul 08.00 WIB" in status

        for day in (8, 9, 10, 11):  # the old deadline's points: BPBD only
            await tick(bot, clock, at(date(2025, 9, day), 9))
        assert len(texts(fake_telegram, t.dinkes, REMINDER)) == 1
        assert len(texts(fake_telegram, t.bpbd, REMINDER)) == 4  # the 4th, its deadline day and two overdue days
        assert texts(fake_telegram, t.head, ESCALATION) == []
        await tick(bot, clock, at(date(2025, 9, 12), 9))
        moved = texts(fake_telegram, t.dinkes, REMINDER)
        assert len(moved) == 2 and "Jumat, 19 September 2025 pukul 16.00 WIB" in moved[-1]
        assert "terlambat" not in moved[-1]

        (view,) = await next_texts(
            fake_telegram, t.kasi, 1, lambda: t.kasi.send_text(f"/kegiatan #{t.world.campaign_id}")
        )
        assert "Jadwal pengingat" in view
        assert "Senin, 1 September 2025 pukul 08.00 WIB: H-7" in view
        assert "Kamis, 4 September 2025 pukul 08.00 WIB: H-3 dan H-1 — 2 OPD diingatkan" in view
        assert "Selasa, 9 September 2025 pukul 08.00 WIB: terlambat hari ke-1, juga ke Kepala OPD" in view


async def test_down_from_seven_to_ten_sends_the_morning_reminder_once(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    t = await town(fake_telegram, tmp_path)
    clock = clock_at(at(date(2025, 9, 1), 10))  # the bot comes up at 10:00 on H-7
    async with running_bot(t.settings, clock) as bot:
        # The tick's start-up run finds the point in its window: no run_now needed.
        reminder = await text_containing(fake_telegram, t.dinkes.id, REMINDER)
        assert DEADLINE_WORDS in reminder
        for moment in (at(date(2025, 9, 1), 10, 5), at(date(2025, 9, 1), 15, 55)):
            await tick(bot, clock, moment)
    assert len(texts(fake_telegram, t.dinkes, REMINDER)) == 1
    assert len(texts(fake_telegram, t.bpbd, REMINDER)) == 1


async def test_down_across_a_working_day_records_its_point_as_skipped(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    t = await town(fake_telegram, tmp_path)
    db = Database(t.settings.database_url)
    try:
        # Queued at 15:59 on H-7 and the process gone before delivering: never sent late.
        await reminder_tick.run(at(date(2025, 9, 1), 15, 59), db, t.settings)
        clock = clock_at(at(date(2025, 9, 4), 9))
        async with running_bot(t.settings, clock):
            await text_containing(fake_telegram, t.dinkes.id, REMINDER)
        # Down from Thursday 4th evening to Tuesday 9th: the deadline day (Monday 8th) passed unseen.
        clock = clock_at(at(date(2025, 9, 9), 9))
        async with running_bot(t.settings, clock):
            late = await text_containing(fake_telegram, t.dinkes.id, "terlambat sejak")
            assert DEADLINE_WORDS in late
            await text_containing(fake_telegram, t.head.id, ESCALATION)
        async with db.read() as session:
            expired = (
                await session.scalars(select(OutboxMessage.status).where(OutboxMessage.kind == "pengingat"))
            ).all()
            audit = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "reminder_sent"))).all()
    finally:
        await db.dispose()
    dinkes = texts(fake_telegram, t.dinkes, REMINDER)
    assert len(dinkes) == 2 and "Tenggat Dinas Kesehatan" in dinkes[0]  # 4th, then 9th
    states = {point: state for (_, point), state in (await reminders_in_db(t.settings)).items()}
    assert states == {"2025-09-01": "skipped", "2025-09-04": "sent", "2025-09-08": "skipped", "2025-09-09": "sent"}
    assert sorted(expired).count("expired") == 2  # H-7's two rows (DINKES, BPBD)
    assert len(audit) == 2 * 3  # per OPD: H-7 (queued, then expired), the 4th, the 9th


class ClockedProcess(BotProcess):
    """`monev run`'s code as a real process, with its clock pinned to `start` (tests/e2e/clocked_run.py)."""

    def __init__(self, env: dict[str, str], cwd: Path, start: datetime) -> None:
        super().__init__(env | {"PYTHONPATH": str(ROOT)}, cwd)
        self.moment = start

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.e2e.clocked_run",
            self.moment.isoformat(),
            cwd=self.cwd,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )


@pytest.mark.slow
async def test_a_real_restart_neither_resends_nor_loses_a_point(fake_telegram: FakeBotAPI, tmp_path: Path) -> None:
    t = await town(fake_telegram, tmp_path)
    env = telegram_env(fake_telegram, tmp_path / "data")
    first = ClockedProcess(env, tmp_path, at(date(2025, 9, 4), 9))
    await first.start()
    db = Database(t.settings.database_url)
    try:
        await text_containing(fake_telegram, t.dinkes.id, REMINDER, timeout=30)
        # Killed once the delivery is recorded (a kill mid-send may repeat a message: the outbox's own rule).
        await outbox_idle(db, timeout=30)
    finally:
        await first.kill()
        await db.dispose()
    # The same day again, in a new process: the point is recorded, so nothing is sent twice.
    second = ClockedProcess(env, tmp_path, at(date(2025, 9, 4), 11))
    await second.start()
    try:
        (status,) = await next_texts(fake_telegram, t.dinkes, 1, lambda: t.dinkes.send_text("/status"))
        assert "Pengingat berikutnya: Senin, 8 September 2025 pukul 08.00 WIB" in status
    finally:
        await second.kill()
    third = ClockedProcess(env, tmp_path, at(date(2025, 9, 8), 9))
    await third.start()
    try:
        await fake_telegram.wait_for(lambda: len(texts(fake_telegram, t.dinkes, REMINDER)) >= 2, timeout=30)
    finally:
        await third.kill()
    assert len(texts(fake_telegram, t.dinkes, REMINDER)) == 2
    assert len(texts(fake_telegram, t.bpbd, REMINDER)) == 2
    stderr = (first.stderr + second.stderr + third.stderr).decode()
    assert "Traceback" not in stderr, stderr[-3000:]


async def test_ingatkan_reminds_now_and_the_schedule_goes_on(fake_telegram: FakeBotAPI, tmp_path: Path) -> None:
    t = await town(fake_telegram, tmp_path)
    clock = clock_at(at(date(2025, 9, 1), 7))  # before the H-7 window
    async with running_bot(t.settings, clock) as bot:
        await settled(fake_telegram, t)
        (receipt,) = await next_texts(
            fake_telegram, t.bpbd, 1, lambda: t.bpbd.send_document(PDF, "sk.pdf", caption="I.01")
        )
        assert "Versi: 1" in receipt
        (refused,) = await next_texts(fake_telegram, t.dinkes, 1, lambda: t.dinkes.send_text("/ingatkan semua"))
        assert REMINDER not in refused
        t.kasi.send_text("/ingatkan DINKES BPBD")
        await text_containing(fake_telegram, t.kasi.id, "/ingatkan KODE_OPD")
        t.kasi.send_text("/ingatkan DISHUB")
        await text_containing(fake_telegram, t.kasi.id, "DISHUB bukan peserta")
        t.kasi.send_text("/ingatkan semua")
        answer = await text_containing(fake_telegram, t.kasi.id, "Pengingat dikirim kepada")
        assert "Pengingat dikirim kepada 1 OPD" in answer and "DINKES" in answer
        assert "Sudah lengkap, tidak diingatkan: BPBD." in answer
        await text_containing(fake_telegram, t.dinkes.id, REMINDER)
        await outbox_idle(bot.app.services.db)
        # Its own key: the H-7 point still goes out in its window.
        await tick(bot, clock, at(date(2025, 9, 1), 9))
    assert len(texts(fake_telegram, t.dinkes, REMINDER)) == 2
    assert texts(fake_telegram, t.bpbd, REMINDER) == []
    db = Database(t.settings.database_url)
    try:
        async with db.read() as session:
            audit = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "reminder_sent"))).all()
    finally:
        await db.dispose()
    manual = [a for a in audit if a.actor_person_id is not None]
    assert len(manual) == 1 and manual[0].role == "kasi" and "DINKES" in (manual[0].details or "")


async def test_a_reminder_reaches_a_whatsapp_liaison(
    fake_telegram: FakeBotAPI, fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path
) -> None:
    """The liaison-facing part on WhatsApp: a BPBD liaison registered there gets the H-7 reminder in WhatsApp's form."""
    settings = both_settings(fake_telegram, fake_whatsapp, tmp_path)
    world = await open_broadcast(settings, {"DINKES": 1}, extra_opds=("BPBD",), now=OPENED, deadline=DEADLINE)
    for chat in (*world.liaisons, 900_001, 900_002, world.uploader_chat):
        fake_telegram.user(chat)
    clock = clock_at(at(date(2025, 9, 1), 7))  # before the H-7 window
    siti = WhatsAppChatter(fake_whatsapp, fake_whatsapp.user(wa_id="6281234567001", name="Siti"))
    async with running_bot(settings, clock) as bot:
        async with bot.app.services.db.write() as session:
            cli = Acting(await identity.ensure_local_person(session, "cli", "setup", OPENED), "cli", "cli")
            (invite,) = await invites.issue_invites(
                session, acting=cli, role=Role.OPD, opd_code="BPBD", now=bot.app.now(), issuer_roles=None
            )
        greeting, _, _ = await siti.say(f"daftar {invite.code}", 3)
        assert "Pendaftaran berhasil" in greeting
        before = siti.count()
        await tick(bot, clock, at(date(2025, 9, 1), 9))
        (reminder,) = await siti.received(before, 1)
    assert REMINDER in reminder and "*" in reminder and "<b>" not in reminder  # WhatsApp's bold, not HTML
    assert f"Tenggat Badan Penanggulangan Bencana Daerah Kota Pontianak: {DEADLINE_WORDS}" in plain(reminder)
    assert len(texts(fake_telegram, fake_telegram.user(next(iter(world.liaisons))), REMINDER)) == 1  # DINKES too
