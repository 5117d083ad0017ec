"""The coordination meeting (SOP step 5) through the real transports, Telegram and WhatsApp in one bot, on a moved
clock: `/rapat` schedules it, invitations with Hadir / Tidak hadir / Diwakilkan reach both channels, the reminders
skip who declined, the organiser gets the equipment reminder, sees the attendance list, reschedules (everyone is
told) and records the actual times, which time step 5 in `/kegiatan #ID`; bad input changes nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.services import meetings
from bot.services.calendar import WorkingCalendar, package_holidays
from bot.settings import Settings
from storage.models import Meeting, MeetingInvitee, Person, Role
from tests.conftest import make_settings
from tests.e2e.both_channels import CHANNELS, Chatter, TelegramChatter, WhatsAppChatter
from tests.e2e.broadcast_world import World, open_broadcast
from tests.e2e.harness import MovableClock, RunningBot, code_for, free_port, outbox_idle, running_bot, telegram_env
from tests.fake_telegram.server import FakeBotAPI
from tests.fake_whatsapp import FakeWhatsAppAPI

pytestmark = pytest.mark.e2e
WIB = ZoneInfo("Asia/Pontianak")
KASI_CHAT = 900_001


def both_settings(fake_telegram: FakeBotAPI, fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path) -> Settings:
    """One bot with both channels: Telegram polling the fake Bot API, WhatsApp's webhook on its own port."""
    port = free_port()
    fake_whatsapp.webhook_url = f"http://127.0.0.1:{port}/whatsapp"
    env = telegram_env(fake_telegram, tmp_path / "data", **fake_whatsapp.monev_settings(), MONEV_HTTP_PORT=str(port))
    return make_settings(Path(env.pop("MONEV_DATA_DIR")), **env)


def calendar(year: int) -> WorkingCalendar:
    return WorkingCalendar(WIB, time(8, 0), time(16, 0), package_holidays([year, year + 1]))


def working_day_from(day: date, cal: WorkingCalendar) -> date:
    while not cal.is_working_day(day):
        day += timedelta(days=1)
    return day


def typed(moment: datetime) -> str:
    return moment.astimezone(WIB).strftime("%d-%m-%Y %H:%M")


async def until(check, timeout: float = 15) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.05)


@dataclass
class Meeting5:
    bot: RunningBot
    clock: MovableClock
    world: World
    kasi: TelegramChatter
    people: dict[str, Chatter]  # Rina, Joko, Sari (Tim SPBE, Telegram), the DINKES liaison (Telegram), BPBD (WhatsApp)
    whatsapp: WhatsAppChatter


def texts_of(chatter: Chatter) -> list[str]:
    if isinstance(chatter, TelegramChatter):
        return [str(m.get("text") or m.get("caption") or "") for m in chatter.fake.sent_messages(chatter.user.id)]
    assert isinstance(chatter, WhatsAppChatter)
    return chatter.user.texts()


async def press_choice(chatter: Chatter, number: int) -> str:
    """Press a button of the person's latest message that has buttons (a notice without any may follow it)."""
    if isinstance(chatter, TelegramChatter):
        latest = next(m for m in reversed(chatter.fake.sent_messages(chatter.user.id)) if m.get("reply_markup"))
        (text,) = await chatter._after(lambda: chatter.user.press_button(number, latest), 1)
        return text
    (text,) = await chatter.press(number)
    return text


async def received(chatter: Chatter, part: str, after: int = 0) -> str:
    """The first message from index `after` on that contains `part`, waiting for it."""
    await until(lambda: any(part in t for t in texts_of(chatter)[after:]))
    return next(t for t in texts_of(chatter)[after:] if part in t)


@asynccontextmanager
async def meeting_world(
    fake_telegram: FakeBotAPI, fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path
) -> AsyncIterator[Meeting5]:
    """An open campaign for DINKES (its liaison on Telegram) and BPBD (its liaison on WhatsApp), three Tim members."""
    settings = both_settings(fake_telegram, fake_whatsapp, tmp_path)
    world = await open_broadcast(settings, {"DINKES": 1}, extra_opds=("BPBD",), now=datetime.now().astimezone())
    for chat in (900_002, world.uploader_chat):
        fake_telegram.user(chat)
    (liaison_chat,) = world.liaisons
    budi = TelegramChatter(fake_telegram, fake_telegram.user(liaison_chat, first_name="Budi"))
    clock = MovableClock()
    kasi = TelegramChatter(fake_telegram, fake_telegram.user(KASI_CHAT, first_name="Andi"))
    async with running_bot(settings, clock) as bot:
        await fake_telegram.wait_for_messages(liaison_chat, 2, timeout=15)
        people: dict[str, Chatter] = {}
        for n, name in enumerate(("Rina", "Joko", "Sari")):
            chatter = TelegramChatter(fake_telegram, fake_telegram.user(7101 + n, first_name=name))
            (greeting,) = await chatter.say(f"/daftar {await code_for(bot, Role.TIM)}")
            assert "Pendaftaran berhasil" in greeting
            people[name] = chatter
        people["Budi"] = budi
        wa = WhatsAppChatter(fake_whatsapp, fake_whatsapp.user(wa_id="6281234567001", name="Siti"))
        greeting, _, _ = await wa.say(f"/daftar {await code_for(bot, Role.OPD, 'BPBD')}", 3)
        assert "Pendaftaran berhasil" in greeting
        people["Siti"] = wa
        # The Kasi reads the broadcast's delivery report once it settles (before or after Siti's invitation): let it
        # come now, not in the middle of the flows under test.
        await fake_telegram.wait_for(
            lambda: [m for m in fake_telegram.sent_messages(KASI_CHAT) if "Laporan pengiriman undangan" in m["text"]],
            timeout=20,
        )
        await outbox_idle(bot.app.services.db)
        yield Meeting5(bot, clock, world, kasi, people, wa)


async def schedule(m: Meeting5, starts: datetime, invitees: str = "tim DINKES BPBD") -> list[str]:
    """The Kasi's `/rapat` flow to the invitations; returns the replies read on the way."""
    kasi = m.kasi
    (ask,) = await kasi.say("/rapat")
    assert "Mohon ketik tanggal dan jam rapat" in ask and "180 menit" in ask
    (place,) = await kasi.say(typed(starts))
    assert "pukul 09.00 WIB" in place and kasi.choices() == ["Ruang Rapat Pontive Center"]
    (agenda,) = await kasi.press(1)
    assert "Tempat: Ruang Rapat Pontive Center" in agenda
    (who,) = await kasi.say("Analisis data dukung OPD dan penyampaian Evaluasi Mandiri")
    assert "Seluruh Tim SPBE" in kasi.choices()
    (confirm,) = await kasi.say(invitees)
    (sent,) = await kasi.press(1)
    return [ask, place, agenda, who, confirm, sent]


async def test_invitations_answers_reminders_reschedule_attendance_and_step_5(
    fake_telegram: FakeBotAPI, fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path
) -> None:
    async with meeting_world(fake_telegram, fake_whatsapp, tmp_path) as m:
        now = m.clock().astimezone(WIB)
        cal = calendar(now.year)
        starts = datetime.combine(working_day_from(now.date() + timedelta(days=3), cal), time(9, 0), tzinfo=WIB)
        replies = await schedule(m, starts)
        confirm, sent = replies[-2], replies[-1]
        assert "Diundang (5 orang)" in confirm and "Rina" in confirm and "Siti" in confirm and "opd-500001" in confirm
        assert "Undangan rapat dikirim kepada 5 orang" in sent

        # Every invitee, on Telegram and on WhatsApp, reads the invitation with the three answers.
        for chatter in m.people.values():
            invitation = await received(chatter, "mengundang Bapak/Ibu")
            assert "Ruang Rapat Pontive Center" in invitation and "Analisis data dukung OPD" in invitation
            assert chatter.choices() == ["Hadir", "Tidak hadir", "Diwakilkan"]

        # Each answer: Hadir (a second press of the same invitation: "sudah diproses"), Tidak hadir, Diwakilkan.
        rina, joko, budi, siti = m.people["Rina"], m.people["Joko"], m.people["Budi"], m.people["Siti"]
        assert isinstance(rina, TelegramChatter)
        invitation_message = rina.fake.sent_messages(rina.user.id)[-1]
        (yes,) = await rina.press(1)
        assert "Jawaban Bapak/Ibu" in yes and "hadir" in yes
        change_message = rina.fake.sent_messages(rina.user.id)[-1]
        (again,) = await rina._after(lambda: rina.user.press_button(1, invitation_message), 1)
        assert "sudah diproses" in again
        (no,) = await joko.press(2)
        assert "tidak hadir" in no
        (budi_yes,) = await budi.press(1)
        assert "hadir" in budi_yes
        (ask_name,) = await siti.press(3)  # on WhatsApp
        assert "Siapa yang mewakili" in ask_name
        (named,) = await siti.say("Rudi Hartono, Kasubbag Program")
        assert "diwakili oleh" in named and "Rudi Hartono, Kasubbag Program" in named

        # Someone not invited cannot answer with another's button.
        outsider = TelegramChatter(fake_telegram, fake_telegram.user(7201, first_name="Eko"))
        (greeting,) = await outsider.say(f"/daftar {await code_for(m.bot, Role.TIM)}")
        sari = m.people["Sari"]
        assert isinstance(sari, TelegramChatter)
        sari_buttons = sari.user.buttons()
        (forged,) = await outsider._after(
            lambda: outsider.user.press(str(sari_buttons[0]["callback_data"]), forge=True), 1
        )
        assert "bukan untuk" in forged

        # The attendance list, at any time.
        (listing,) = await m.kasi.say("/rapat")
        assert "5 diundang: 2 hadir, 1 diwakilkan, 1 tidak hadir, 1 belum menjawab" in listing
        assert "Joko: tidak hadir" in listing and "Sari: belum menjawab" in listing
        assert "Siti: diwakilkan oleh Rudi Hartono, Kasubbag Program" in listing

        # The working day before at 08:00: reminders to all but Joko, the equipment reminder to the Kasi.
        day_before = meetings.reminder_moments(starts, cal)["hari"]
        assert day_before > m.clock()
        m.clock.advance(day_before - m.clock() + timedelta(minutes=1))
        await siti.say("/saya")  # WhatsApp people are written to within their 24-hour window
        counts = {name: len(texts_of(c)) for name, c in m.people.items()}
        kasi_count = len(texts_of(m.kasi))
        await m.bot.app.scheduler.run_now(meetings_job(), m.bot.app.now())
        for name in ("Rina", "Sari", "Budi", "Siti"):
            reminder = await received(m.people[name], "Pengingat", counts[name])
            assert "besok" in reminder
        equipment = await received(m.kasi, "Pengingat untuk penyelenggara", kasi_count)
        assert "Bila adanya kerusakan pada perangkat / peralatan" in equipment and "agar segera diperbaiki" in equipment
        await m.bot.app.scheduler.run_now(meetings_job(), m.bot.app.now())  # once only
        await outbox_idle(m.bot.app.services.db)  # whatever the runs queued has gone out
        assert not any("Pengingat" in t for t in texts_of(joko)[counts["Joko"] :])

        # The Kasi reschedules to the next working day: everyone invited is told and asked again.
        new_start = datetime.combine(working_day_from(starts.date() + timedelta(days=1), cal), time(9, 0), tzinfo=WIB)
        (shown,) = await m.kasi.say("/rapat")
        assert m.kasi.choices()[:2] == ["Ubah jadwal", "Batalkan rapat"]
        (ask_new,) = await m.kasi.press(1)
        assert "Jadwal sekarang" in ask_new
        (sure,) = await m.kasi.say(typed(new_start))
        assert "Seluruh 5 undangan akan diberi tahu" in sure
        counts = {name: len(texts_of(c)) for name, c in m.people.items()}
        await siti.say("/saya")
        counts["Siti"] = len(texts_of(siti))
        (moved,) = await m.kasi.press(1)
        assert "Jadwal rapat diubah" in moved
        for name, chatter in m.people.items():
            notice = await received(chatter, "jadwal rapat berikut", counts[name])
            assert "diubah" in notice and chatter.choices() == ["Hadir", "Tidak hadir", "Diwakilkan"]
        (stale,) = await rina._after(lambda: rina.user.press_button(1, change_message), 1)
        assert "sudah diubah menjadi" in stale
        (no_again,) = await joko.press(2)
        assert "tidak hadir" in no_again

        # An hour before the new start: everyone but Joko (who declined again) is reminded.
        m.clock.advance(new_start - timedelta(minutes=59) - m.clock())
        await siti.say("/saya")
        counts = {name: len(texts_of(c)) for name, c in m.people.items()}
        await m.bot.app.scheduler.run_now(meetings_job(), m.bot.app.now())
        for name in ("Rina", "Sari", "Budi", "Siti"):
            assert "satu jam lagi" in await received(m.people[name], "Pengingat", counts[name])
        await outbox_idle(m.bot.app.services.db)
        assert not any("Pengingat" in t for t in texts_of(joko)[counts["Joko"] :])

        # After the meeting the Kasi records it as held: step 5 shows in the campaign's timeline.
        m.clock.advance(timedelta(hours=4))
        await m.kasi.say("/rapat")
        (ask_times,) = await m.kasi.press(m.kasi.choices().index("Catat waktu pelaksanaan lain") + 1)
        assert "jam mulai dan jam selesai" in ask_times
        (unreadable,) = await m.kasi.say("jam sembilan")
        assert "Mohon ketik dua jam" in unreadable
        (backwards,) = await m.kasi.say("12:00 09:00")
        assert "harus setelah waktu mulai" in backwards
        (left,) = await m.kasi.say("/batal")
        await m.kasi.say("/rapat")
        assert "Rapat terlaksana sesuai jadwal" in m.kasi.choices()
        (held,) = await m.kasi.press(m.kasi.choices().index("Rapat terlaksana sesuai jadwal") + 1)
        assert "Pelaksanaan rapat tercatat" in held and "12.00 WIB" in held
        (timeline,) = await m.kasi.say(f"/kegiatan #{m.world.campaign_id}")
        assert "Langkah 5 — Rapat Tim SPBE (Tim SPBE): 180 menit kerja dari target 180 menit kerja" in timeline
        assert "rapat Tim SPBE dimulai" in timeline and "rapat Tim SPBE selesai" in timeline


def meetings_job() -> str:
    from jobs import meeting_reminders

    return meeting_reminders.NAME


@pytest.mark.parametrize("channel", CHANNELS)
async def test_bad_input_changes_nothing_and_a_cancelled_meeting_refuses_answers(
    channel: str, fake_telegram: FakeBotAPI, fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path
) -> None:
    async with meeting_world(fake_telegram, fake_whatsapp, tmp_path) as m:
        name = "Rina" if channel == "telegram" else "Siti"
        kasi, invitee = m.kasi, m.people[name]
        now = m.clock().astimezone(WIB)
        starts = datetime.combine(now.date() + timedelta(days=5), time(9, 0), tzinfo=WIB)

        # A liaison may not use /rapat; a past moment, a day without its hour, unknown invitees are refused.
        (refused,) = await m.people["Budi"].say("/rapat")
        assert "tidak tersedia" in refused
        (ask,) = await kasi.say("/rapat")
        assert "tanggal dan jam" in ask
        (past,) = await kasi.say("01-01-2020 09:00")
        assert "sudah lewat" in past
        (no_hour,) = await kasi.say(starts.strftime("%Y-%m-%d"))
        assert "sertakan jam" in no_hour
        (garbled,) = await kasi.say("besok pagi")
        assert "tidak dapat dibaca" in garbled
        await kasi.say(typed(starts))
        await kasi.say("Aula Kantor Wali Kota")
        await kasi.say("Rapat koordinasi")
        (unknown,) = await kasi.say("tim BUKANOPD #99999")
        assert "Tidak dikenali: BUKANOPD, #99999" in unknown
        async with m.bot.app.services.db.read() as session:
            assert await session.scalar(select(func.count()).select_from(Meeting)) == 0
        (confirm,) = await kasi.say("#" + str(await person_of(m, name)))
        assert "Diundang (1 orang)" in confirm
        (sent,) = await kasi.press(1)
        assert "dikirim kepada 1 orang" in sent
        await received(invitee, "mengundang Bapak/Ibu")

        # The Kasi cancels (after a confirmation): the invitee is told; pressing the invitation changes nothing.
        await kasi.say("/rapat")
        (sure,) = await kasi.press(2)
        assert "Batalkan rapat" in sure
        before = len(texts_of(invitee))
        (cancelled,) = await kasi.press(1)
        assert "dibatalkan" in cancelled
        assert "dibatalkan" in await received(invitee, "dibatalkan", before)
        refused_answer = await press_choice(invitee, 1)
        assert "sudah dibatalkan" in refused_answer
        async with m.bot.app.services.db.read() as session:
            answers = (await session.scalars(select(MeetingInvitee.rsvp))).all()
        assert answers == [None]


async def person_of(m: Meeting5, name: str) -> int:
    """A person's id by their name, as `/rapat`'s invitee question lists people outside the Tim."""
    async with m.bot.app.services.db.read() as session:
        person = await session.scalar(select(Person.id).where(Person.display_name == name))
    assert person is not None
    return int(person)
