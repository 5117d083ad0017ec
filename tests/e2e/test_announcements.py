"""Announcements (`/umumkan`) and liaisons' questions, on Telegram and on WhatsApp (issue 18 items 3 and 4)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.models import Announcement, AuditEntry, OutboxMessage, Role
from tests.e2e.both_channels import CHANNELS, Chatter, TelegramChatter, WhatsAppChatter, plain
from tests.e2e.broadcast_world import open_broadcast, tagged_pdf
from tests.e2e.harness import RunningBot, bot_settings, code_for, running_bot
from tests.e2e.whatsapp_world import whatsapp_settings
from tests.fake_telegram.server import FakeBotAPI
from tests.fake_whatsapp import FakeWhatsAppAPI

pytestmark = pytest.mark.e2e


@dataclass
class Chats:
    bot: RunningBot
    admin: Chatter  # Andi
    siti: Chatter  # DINKES
    budi: Chatter  # BAPPERIDA
    kasi: Chatter  # Rina


@asynccontextmanager
async def chats(
    channel: str, fake_telegram: FakeBotAPI, fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path
) -> AsyncIterator[Chats]:
    """An open campaign for DINKES, BAPPERIDA and DISKOMINFO (no liaison); an admin, a Kasi, two liaisons."""

    settings = (
        bot_settings(fake_telegram, tmp_path) if channel == "telegram" else whatsapp_settings(fake_whatsapp, tmp_path)
    )
    opds = ("BAPPERIDA", "DINKES", "DISKOMINFO")
    await open_broadcast(settings, {}, extra_opds=opds, now=datetime.now().astimezone())

    def person(number: int, name: str) -> Chatter:
        if channel == "telegram":
            return TelegramChatter(fake_telegram, fake_telegram.user(710_000 + number, first_name=name))
        return WhatsAppChatter(fake_whatsapp, fake_whatsapp.user(wa_id=f"62812345670{number:02d}", name=name))

    admin, kasi, siti, budi = person(1, "Andi"), person(2, "Rina"), person(3, "Siti"), person(4, "Budi")
    async with running_bot(settings) as bot:
        for chatter, role in ((admin, Role.ADMIN), (kasi, Role.KASI)):
            (greeting,) = await chatter.say(f"/daftar {await code_for(bot, role)}")
            assert "Pendaftaran berhasil" in greeting
        for chatter, opd in ((siti, "DINKES"), (budi, "BAPPERIDA")):
            greeting, _, _ = await chatter.say(f"/daftar {await code_for(bot, Role.OPD, opd)}", 3)
            assert "Pendaftaran berhasil" in greeting
        yield Chats(bot, admin, siti, budi, kasi)


async def recorded(c: Chats, chatter: Chatter, index: int) -> None:
    """Until the outbox row of the bot's message number `index` to this person holds its platform message id.

    A person replies within milliseconds here: the message can reach the fake a moment before it is recorded sent.
    """
    if isinstance(chatter, TelegramChatter):
        platform_id = str(chatter.fake.sent_messages(chatter.user.id)[index]["message_id"])
    else:
        assert isinstance(chatter, WhatsAppChatter)
        platform_id = str(chatter.user.messages()[index]["id"])
    async with asyncio.timeout(15):
        while True:
            async with c.bot.app.services.db.read() as session:
                found = await session.scalar(
                    select(OutboxMessage.id).where(OutboxMessage.platform_message_id == platform_id)
                )
            if found is not None:
                return
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("channel", CHANNELS)
async def test_an_announcement_with_a_document_reaches_only_the_chosen_opds(
    channel: str, fake_telegram: FakeBotAPI, fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path
) -> None:
    async with chats(channel, fake_telegram, fake_whatsapp, tmp_path) as c:
        (ask,) = await c.admin.say("/umumkan")
        assert "Mohon tulis isi pengumumannya" in plain(ask) and "Evaluasi Mandiri SPBE 2026" in plain(ask)
        (document,) = await c.admin.say("Rapat teknis pengisian data dukung hari Senin pukul 09.00 di Pontive Center.")
        assert c.admin.choices() == ["Tanpa lampiran"]
        (opds,) = await c.admin.send_document(tagged_pdf(b"jadwal"), "jadwal-rapat.pdf")
        assert "Lampiran dicatat: jadwal-rapat.pdf" in plain(opds) and "BAPPERIDA, DINKES, DISKOMINFO" in plain(opds)
        (confirm,) = await c.admin.say("dinkes DISKOMINFO")
        assert "Penerima: 1 Penghubung OPD dari 1 OPD (DINKES)" in plain(confirm)
        assert "tidak menerima): DISKOMINFO" in plain(confirm) and "Lampiran: jadwal-rapat.pdf" in plain(confirm)
        siti_before, budi_before, admin_before = c.siti.count(), c.budi.count(), c.admin.count()
        (sent,) = await c.admin.press(1)
        assert "sedang dikirim ke 1 Penghubung OPD" in plain(sent)
        (announcement,) = await c.siti.received(siti_before, 1)
        assert "Pengumuman Monev SPBE" in plain(announcement) and "Rapat teknis pengisian data dukung" in plain(
            announcement
        )
        assert "Dari: Andi" in plain(announcement)
        assert c.siti.documents()[-1] == "jadwal-rapat.pdf"
        (_, report) = await c.admin.received(admin_before, 2)
        assert "diterima: 1 dari 1 Penghubung OPD" in plain(report) and "semua OPD terjangkau" in plain(report)
        assert (
            c.budi.count() == budi_before
        )  # BAPPERIDA was not chosen (queued with Siti's, gone out before the report)
        async with c.bot.app.services.db.read() as session:
            (row,) = (await session.scalars(select(Announcement))).all()
            audited = await session.scalar(select(AuditEntry).where(AuditEntry.action == "announcement_sent"))
            kinds = (await session.scalars(select(OutboxMessage.kind).where(OutboxMessage.kind == "pengumuman"))).all()
    assert row.document_name == "jadwal-rapat.pdf" and row.reported_at is not None
    assert audited is not None and audited.object_id == str(row.id)
    assert kinds == ["pengumuman"]


@pytest.mark.parametrize("channel", CHANNELS)
async def test_announcement_refusals_send_nothing(
    channel: str, fake_telegram: FakeBotAPI, fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path
) -> None:
    async with chats(channel, fake_telegram, fake_whatsapp, tmp_path) as c:
        (refused,) = await c.siti.say("/umumkan")
        assert "tidak" in plain(refused).lower() and "umumkan" in plain(refused)
        await c.admin.say("/umumkan")
        (program,) = await c.admin.say("Mohon segera melengkapi data dukung.")
        (bad_file,) = await c.admin.send_document(b"MZ\x90\x00" + b"\x00" * 200, "jadwal.exe")
        assert "jadwal.exe" in plain(bad_file)
        (waiting,) = await c.admin.say("tidak jadi")
        assert "Mohon kirim satu dokumen sebagai lampiran" in plain(waiting) and c.admin.choices() == ["Tanpa lampiran"]
        (nobody,) = await c.admin.press(1)
        assert c.admin.choices() == ["Semua OPD (3)"]
        (no_liaison,) = await c.admin.say("DISKOMINFO")
        assert "belum memiliki Penghubung OPD terdaftar (DISKOMINFO)" in plain(no_liaison)
        (not_in_campaign,) = await c.admin.say("BPBD")
        assert "bukan peserta" in plain(not_in_campaign) and "BPBD" in plain(not_in_campaign)
        (cancelled,) = await c.admin.say("/batal")
        async with c.bot.app.services.db.read() as session:
            assert (await session.scalars(select(Announcement))).all() == []
            queued = (await session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "pengumuman"))).all()
    assert queued == []
    assert "dibatalkan" in plain(cancelled).lower() and "kirim satu dokumen sekarang" in plain(program)
    assert "Mohon tulis kode OPD" in plain(nobody)


@pytest.mark.parametrize("channel", CHANNELS)
async def test_a_question_is_relayed_and_answered_by_reply_and_by_button(
    channel: str, fake_telegram: FakeBotAPI, fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path
) -> None:
    async with chats(channel, fake_telegram, fake_whatsapp, tmp_path) as c:
        andi_at, rina_at, siti_at = c.admin.count(), c.kasi.count(), c.siti.count()
        (ack,) = await c.siti.say("Bagaimana cara mengirim berkas yang lebih dari 20 MB?")
        assert "sudah diteruskan kepada admin Diskominfo dan Kasi PK&AI" in plain(ack)
        (to_andi,) = await c.admin.received(andi_at, 1)
        await recorded(c, c.admin, andi_at)
        (to_rina,) = await c.kasi.received(rina_at, 1)
        for relay in (to_andi, to_rina):
            assert "Pertanyaan dari Dinas Kesehatan Kota Pontianak (Siti)" in plain(relay)
            assert "lebih dari 20 MB?" in plain(relay)
        assert c.kasi.choices() == ["Balas"]
        # Andi answers by replying to the relayed message; Rina is told, and her "Balas" is refused with his name.
        siti_at, rina_at = c.siti.count() + 1, c.kasi.count()
        (taken,) = await c.admin.reply_to(andi_at, "Silakan dipecah menjadi beberapa bagian dalam satu /kirim.")
        assert "sedang dikirim kepada Siti (Dinas Kesehatan Kota Pontianak)" in plain(taken)
        (answer,) = await c.siti.received(siti_at - 1, 1)
        assert "Silakan dipecah menjadi beberapa bagian" in plain(answer) and "Dijawab oleh: Andi" in plain(answer)
        (told,) = await c.kasi.received(rina_at, 1)
        assert "sudah dijawab oleh Andi" in plain(told)
        (late,) = await c.kasi.press_on(rina_at - 1, 1)
        assert "sudah dijawab oleh Andi" in plain(late)
        # Budi's question, answered by Rina with "Balas" then her text; Andi's later reply is refused.
        andi_at, rina_at, budi_at = c.admin.count(), c.kasi.count(), c.budi.count()
        await c.budi.say("Apakah SK boleh dikirim dalam bentuk foto?")
        await c.admin.received(andi_at, 1)
        await c.kasi.received(rina_at, 1)
        (write,) = await c.kasi.press_on(rina_at, 1)
        assert "Mohon tulis jawaban untuk pertanyaan dari" in plain(write) and "bentuk foto?" in plain(write)
        (sent,) = await c.kasi.say("Mohon dipindai menjadi PDF, Bapak/Ibu.")
        assert "sedang dikirim kepada Budi" in plain(sent)
        (budi_answer,) = await c.budi.received(budi_at + 1, 1)
        assert "Mohon dipindai menjadi PDF" in plain(budi_answer) and "Dijawab oleh: Rina" in plain(budi_answer)
        await recorded(c, c.admin, andi_at)
        (andi_told,) = await c.admin.received(andi_at + 1, 1)
        assert "sudah dijawab oleh Rina" in plain(andi_told)
        (second,) = await c.admin.reply_to(andi_at, "Boleh, asalkan terbaca.")
        assert "sudah dijawab oleh Rina" in plain(second)
        # Someone who is no admin or Kasi cannot answer; staff free text keeps today's answer.
        (forged,) = await c.siti.forge("tny:1")
        assert "hanya dapat dijawab oleh admin Diskominfo dan Kasi PK&AI" in plain(forged)
        (staff_text,) = await c.admin.say("halo")
        assert "Pertanyaan" not in plain(staff_text)
        (history,) = await c.admin.say("/riwayat DINKES")
        assert "Pertanyaan dan jawaban" in plain(history) and "Dijawab Andi" in plain(history)
        assert "lebih dari 20 MB?" in plain(history) and "bentuk foto" not in plain(history)
        async with c.bot.app.services.db.read() as session:
            actions = (
                await session.scalars(select(AuditEntry.action).where(AuditEntry.object_type == "question"))
            ).all()
    assert sorted(actions) == ["question_answered", "question_answered", "question_asked", "question_asked"]
