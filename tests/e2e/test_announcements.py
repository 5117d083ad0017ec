"""Announcements (`/umumkan`) and liaisons' questions, on Telegram and on WhatsApp (issue 18 items 3 and 4)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.models import Announcement, AuditEntry, OutboxMessage, Role
from tests.e2e.both_channels import CHANNELS, Chatter, TelegramChatter, WhatsAppChatter, plain
from tests.e2e.broadcast_world import tagged_pdf
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
    """An open campaign for DINKES, BAPPERIDA and DISKOMINFO (no liaison); an admin, a Kasi, two liaisons on `channel`."""
    from tests.e2e.broadcast_world import open_broadcast

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
        assert "Pengumuman Monev SPBE" in plain(announcement) and "Rapat teknis pengisian data dukung" in plain(announcement)
        assert "Dari: Andi" in plain(announcement)
        assert c.siti.documents()[-1] == "jadwal-rapat.pdf"
        (_, report) = await c.admin.received(admin_before, 2)
        assert "diterima: 1 dari 1 Penghubung OPD" in plain(report) and "semua OPD terjangkau" in plain(report)
        assert c.budi.count() == budi_before  # BAPPERIDA was not chosen (queued with Siti's, gone out before the report)
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
