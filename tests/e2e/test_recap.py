"""The daily recap and acting from it, through the real scheduler host and transport on pinned days of 2025 (the
clock is moved): the recap at 16:00 on working days only (not on a Saturday nor on Maulid Nabi), once a day, with
its chart; what changed since yesterday; `/rekap` on demand; each button by its roles, a double press, the
forward to the Tim SPBE and closing collection."""

from __future__ import annotations

import asyncio
import io
import json
from dataclasses import replace
from datetime import date, datetime, time
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from bot.services import identity
from bot.services.audit import Acting
from bot.settings import Settings
from jobs import recap_tick
from storage.database import Database
from storage.models import AuditEntry, Campaign, Role
from tests.e2e.both_channels import WhatsAppChatter
from tests.e2e.broadcast_world import PDF, open_broadcast, register_one, tagged_pdf
from tests.e2e.harness import MovableClock, RunningBot, code_for, outbox_idle, running_bot
from tests.e2e.test_exports import document_of
from tests.e2e.test_intake import next_texts
from tests.e2e.test_reminders import DEADLINE, OPENED, Town, at, clock_at, set_clock, settled, town
from tests.e2e.test_review import text_containing
from tests.e2e.whatsapp_world import whatsapp_settings
from tests.fake_telegram.actors import FakeUser
from tests.fake_telegram.server import FakeBotAPI
from tests.fake_whatsapp import FakeWhatsAppAPI, FakeWhatsAppUser, interactive_choices

pytestmark = pytest.mark.e2e

RECAP = "Rekap Evaluasi Mandiri SPBE 2026"
TIM_CHAT = 900_004
ADMIN_CHAT = 900_005


def daily_recap(settings: Settings) -> Settings:
    """The e2e harness turns the daily recap off (it would reach every test after 16:00 WIB); these tests want it."""
    return replace(settings, recap_time=time(16, 0))


async def recap_tick_at(bot: RunningBot, clock: MovableClock, moment: datetime, *, settle: bool = True) -> None:
    """Move the clock, run the recap tick on the scheduler host, and (`settle`) wait until the outbox is idle."""
    set_clock(clock, moment)
    await bot.app.scheduler.run_now(recap_tick.NAME, bot.app.now())
    if settle:
        await outbox_idle(bot.app.services.db)


def recaps(fake: FakeBotAPI, user: FakeUser) -> list[dict[str, object]]:
    return [m for m in fake.sent_messages(user.id) if RECAP in str(m.get("text") or "")]


def charts(fake: FakeBotAPI, user: FakeUser) -> list[dict[str, object]]:
    return [
        m
        for m in fake.sent_messages(user.id)
        if isinstance(m.get("document"), dict) and str(m["document"]["file_name"]).startswith("grafik-rekap")  # type: ignore[index]
    ]


async def asked_recap(fake: FakeBotAPI, user: FakeUser, part: str = RECAP) -> dict[str, object]:
    """`/rekap` and its answer (the chart follows it through the outbox): the message with the buttons."""
    before, drawn = len(recaps(fake, user)), len(charts(fake, user))
    user.send_text("/rekap")
    await text_containing(fake, user.id, part)
    while len(recaps(fake, user)) <= before or len(charts(fake, user)) <= drawn:
        await fake.wait_for_messages(user.id, len(fake.sent_messages(user.id)) + 1, timeout=15)
    return recaps(fake, user)[-1]


def labels(user: FakeUser, message: dict[str, object]) -> list[str]:
    return [str(b["text"]) for b in user.buttons(message)]


async def with_tim_and_admin(t: Town) -> None:
    db = Database(t.settings.database_url)
    try:
        async with db.write() as session:
            cli = Acting(await identity.ensure_local_person(session, "cli", "setup", OPENED), "cli", "cli")
            await register_one(session, Role.TIM, None, TIM_CHAT, cli, OPENED)
            await register_one(session, Role.ADMIN, None, ADMIN_CHAT, cli, OPENED)
    finally:
        await db.dispose()


async def test_the_daily_recap_goes_at_four_on_working_days_once_with_its_chart(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    t = await town(fake_telegram, tmp_path)
    kabid = fake_telegram.user(900_002)
    clock = clock_at(OPENED)
    async with running_bot(daily_recap(t.settings), clock) as bot:
        await settled(fake_telegram, t)
        (receipt,) = await next_texts(
            fake_telegram, t.bpbd, 1, lambda: t.bpbd.send_document(PDF, "sk.pdf", caption="I.01")
        )
        assert "Versi: 1" in receipt
        monday = OPENED.date()
        await recap_tick_at(bot, clock, at(monday, 15, 59))
        assert not recaps(fake_telegram, t.kasi)
        await recap_tick_at(bot, clock, at(monday, 16, 0))
        await recap_tick_at(bot, clock, at(monday, 16, 30))  # the same day: not again
        for person in (t.kasi, kabid):
            (first,) = recaps(fake_telegram, person)
            text = str(first["text"])
            assert "Kelengkapan: 50%" in text and "Terverifikasi: 0%" in text
            assert "rekap harian pertama" in text
            assert "1. DINKES" in text and "BPBD:" not in text, text  # only those behind
            assert "Menunggu tinjauan: 1 versi" in text
            (chart,) = charts(fake_telegram, person)
            name, data = document_of(fake_telegram, chart)
            image = Image.open(io.BytesIO(data))
            assert image.format == "PNG" and image.size[1] >= 600
            colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
            assert colours is not None and len(colours) > 10, name

        # Tuesday DINKES sends its item: the recap says what changed since Monday's.
        (receipt,) = await next_texts(
            fake_telegram, t.dinkes, 1, lambda: t.dinkes.send_document(tagged_pdf(b"dinkes"), "sk.pdf", caption="I.01")
        )
        assert "Versi: 1" in receipt
        await recap_tick_at(bot, clock, at(date(2025, 8, 26), 16, 5))
        tuesday = str(recaps(fake_telegram, t.kasi)[-1]["text"])
        assert "Kelengkapan: 100%" in tuesday and "Semua OPD sudah lengkap" in tuesday
        assert "Sejak rekap Senin, 25 Agustus 2025" in tuesday and "+1 item terkirim" in tuesday
        assert "1 OPD menjadi lengkap" in tuesday

        # Saturday, and Friday 5 September (Maulid Nabi): no recap.
        for holiday in (date(2025, 8, 30), date(2025, 9, 5)):
            await recap_tick_at(bot, clock, at(holiday, 16, 0))
        assert len(recaps(fake_telegram, t.kasi)) == 2 and len(charts(fake_telegram, kabid)) == 2
        await recap_tick_at(bot, clock, at(date(2025, 9, 4), 16, 0))  # Thursday: a working day
        assert len(recaps(fake_telegram, t.kasi)) == 3

    # A restart later that Thursday sends nothing again (the day's recap row was claimed with the messages).
    async with running_bot(daily_recap(t.settings), clock) as bot:
        await recap_tick_at(bot, clock, at(date(2025, 9, 4), 16, 40))
    assert len(recaps(fake_telegram, t.kasi)) == 3 and len(recaps(fake_telegram, kabid)) == 3


async def test_acting_from_the_recap_by_role_with_a_double_press_and_the_forward(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    t = await town(fake_telegram, tmp_path)
    await with_tim_and_admin(t)
    kabid, tim, admin = fake_telegram.user(900_002), fake_telegram.user(TIM_CHAT), fake_telegram.user(ADMIN_CHAT)
    clock = clock_at(at(date(2025, 9, 2), 10))  # the day after H-7: no scheduled reminder
    async with running_bot(daily_recap(t.settings), clock) as bot:
        await settled(fake_telegram, t)
        # Who may read it: not a liaison.
        t.dinkes.send_text("/rekap")
        await text_containing(fake_telegram, t.dinkes.id, "tidak tersedia untuk peran Anda")

        # The admin's recap has no forward (Kasi and Kabid) nor close (Kabid) button.
        assert labels(admin, await asked_recap(fake_telegram, admin)) == [
            "Ingatkan yang tertinggal",
            "Perpanjang tenggat",
            "Unduh rekap lengkap",
        ]

        # The Kasi reminds the OPDs behind: asked once more, then sent; a second press is "sudah diproses".
        recap_message = await asked_recap(fake_telegram, t.kasi)
        assert labels(t.kasi, recap_message) == [
            "Ingatkan yang tertinggal",
            "Perpanjang tenggat",
            "Teruskan ke Tim SPBE",
            "Unduh rekap lengkap",
        ]
        forged = recap_message["reply_markup"]["inline_keyboard"][0][0]["callback_data"]  # type: ignore[index]
        (asked,) = await next_texts(fake_telegram, t.kasi, 1, lambda: t.kasi.press_button(1, recap_message))
        assert "Kirim pengingat sekarang kepada Penghubung dari 2 OPD" in asked
        confirm = fake_telegram.last_bot_message(t.kasi.id)
        reminded_before = len(fake_telegram.sent_messages(t.dinkes.id))
        (done,) = await next_texts(fake_telegram, t.kasi, 1, lambda: t.kasi.press_button(1))
        assert "Pengingat dikirim kepada" in done
        await outbox_idle(bot.app.services.db)
        (reminded,) = fake_telegram.sent_messages(t.dinkes.id)[reminded_before:]
        assert "Pengingat pengumpulan data dukung" in str(reminded.get("text"))
        (again,) = await next_texts(fake_telegram, t.kasi, 1, lambda: t.kasi.press_button(1, confirm))
        assert "sudah diproses" in again
        # The Kasi's button pressed by the Kabid (forged callback data) is refused.
        (not_yours,) = await next_texts(fake_telegram, kabid, 1, lambda: kabid.press(str(forged), forge=True))
        assert "bukan untuk Anda" in not_yours

        # The Kabid extends DINKES' deadline from the recap: typed, echoed in words, confirmed.
        extend_and_close = await asked_recap(fake_telegram, kabid)
        assert labels(kabid, extend_and_close) == [
            "Ingatkan yang tertinggal",
            "Perpanjang tenggat",
            "Teruskan ke Tim SPBE",
            "Tutup pengumpulan",
            "Unduh rekap lengkap",
        ]
        (question,) = await next_texts(fake_telegram, kabid, 1, lambda: kabid.press_button(2, extend_and_close))
        assert "Mohon ketik OPD" in question
        (echo,) = await next_texts(
            fake_telegram, kabid, 1, lambda: kabid.send_text("DINKES 2025-09-19 16:00 surat Kepala Dinas")
        )
        assert "Jumat, 19 September 2025 pukul 16.00 WIB" in echo
        (extended,) = await next_texts(fake_telegram, kabid, 1, lambda: kabid.press_button(1))
        assert "diperpanjang menjadi" in extended and "1 penghubung OPD diberi tahu" in extended

        # The full workbook from the same recap, as `/ekspor` sends it.
        before = len(fake_telegram.sent_messages(kabid.id))
        kabid.press_button(5, extend_and_close)
        workbook = (await fake_telegram.wait_for_messages(kabid.id, before + 2, timeout=30))[before:]
        names = [str(m["document"]["file_name"]) for m in workbook if isinstance(m.get("document"), dict)]  # type: ignore[index]
        assert any(n.startswith("rekap-kegiatan-") and n.endswith(".xlsx") for n in names), names

        # The Kabid closes collection from the recap, then the Kasi forwards it: the campaign is recapped.
        (close_asked,) = await next_texts(fake_telegram, kabid, 1, lambda: kabid.press_button(4, extend_and_close))
        (closed,) = await next_texts(fake_telegram, kabid, 1, lambda: kabid.press_button(1))
        assert "ditutup" in closed, (close_asked, closed)
        closed_recap = await asked_recap(fake_telegram, t.kasi, "pengumpulan ditutup")
        assert labels(t.kasi, closed_recap) == ["Teruskan ke Tim SPBE", "Unduh rekap lengkap"]
        (forward_asked,) = await next_texts(fake_telegram, t.kasi, 1, lambda: t.kasi.press_button(1, closed_recap))
        assert "langkah rekap data akan dinyatakan selesai" in forward_asked
        (forwarded,) = await next_texts(fake_telegram, t.kasi, 1, lambda: t.kasi.press_button(1))
        assert "sudah diteruskan kepada 1 anggota Tim SPBE" in forwarded
        await outbox_idle(bot.app.services.db)
        (for_tim,) = recaps(fake_telegram, tim)
        assert "Diteruskan oleh" in str(for_tim["text"]) and not tim.buttons(for_tim)
        assert len(charts(fake_telegram, tim)) == 1

    db = Database(t.settings.database_url)
    try:
        async with db.read() as session:
            state = await session.scalar(select(Campaign.state).where(Campaign.id == t.world.campaign_id))
            actions = (await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all()
    finally:
        await db.dispose()
    assert state == "recapped"
    for action in ("reminder_sent", "deadline_extended", "campaign_closed", "campaign_recapped", "recap_forwarded"):
        assert action in actions, action


def documents_of(user: FakeWhatsAppUser) -> list[dict[str, object]]:
    return [m for m in user.messages() if m.get("type") == "document"]


async def wa_text_containing(fake: FakeWhatsAppAPI, user: FakeWhatsAppUser, part: str) -> str:
    async with asyncio.timeout(15):
        while True:
            found = [t for t in user.texts() if part in t]
            if found:
                return found[-1]
            await asyncio.sleep(0.05)


async def test_on_whatsapp_the_daily_recap_arrives_with_its_chart_and_its_button_acts(
    fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path
) -> None:
    settings = daily_recap(whatsapp_settings(fake_whatsapp, tmp_path))
    start = at(date(2025, 9, 2), 10)
    await open_broadcast(settings, {}, extra_opds=("DINKES", "BPBD"), now=start, deadline=DEADLINE)
    clock = clock_at(start)
    kasi = fake_whatsapp.user(wa_id="6281234567009", name="Rina")
    async with running_bot(settings, clock) as bot:
        await kasi.send_text(f"/daftar {await code_for(bot, Role.KASI)}")
        await wa_text_containing(fake_whatsapp, kasi, "Pendaftaran berhasil")
        # The Kasi and Kabid registered on Telegram stay queued: this bot has WhatsApp only.
        await recap_tick_at(bot, clock, at(date(2025, 9, 2), 16, 0), settle=False)
        text = await wa_text_containing(fake_whatsapp, kasi, RECAP)
        assert "Kelengkapan: *0%*" in text and "1. ```BPBD```" in text and "2. ```DINKES```" in text, text
        chatter = WhatsAppChatter(fake_whatsapp, kasi)
        async with asyncio.timeout(15):  # a long text goes first, its buttons in the message after it
            while not any(interactive_choices(m) for m in kasi.messages()) or not documents_of(kasi):
                await asyncio.sleep(0.05)
        assert chatter.choices() == [
            "Ingatkan yang tertinggal",
            "Perpanjang tenggat",
            "Teruskan ke Tim SPBE",
            "Unduh rekap lengkap",
        ]
        documents = documents_of(kasi)
        assert len(documents) == 1 and "grafik-rekap" in json.dumps(documents[0], default=str), documents
        (asked,) = await chatter.press(1)
        assert "Kirim pengingat sekarang kepada Penghubung dari 2 OPD" in asked
        (done,) = await chatter.press(1)
        assert "Pengingat dikirim kepada 2 OPD" in done and "0 penghubung OPD" in done, done
