"""`/nilai` through the real transports, on Telegram and on WhatsApp: one score entered in chat (with the Pemdi
source), bad input refused, and a scores file imported in the flow (the template round trip on Telegram)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.services import scores
from bot.services.audit import Acting
from storage.models import AuditEntry, Campaign, CampaignScore, Role, RoleAssignment
from tests.e2e.both_channels import CHANNELS, PEMDI, Chatter, TelegramChatter, WhatsAppChatter, plain
from tests.e2e.broadcast_world import open_broadcast
from tests.e2e.harness import RunningBot, bot_settings, code_for, running_bot
from tests.e2e.whatsapp_world import whatsapp_settings
from tests.fake_telegram.server import FakeBotAPI
from tests.fake_whatsapp import FakeWhatsAppAPI

pytestmark = pytest.mark.e2e

SIMULATION = "Simulasi; nilai resmi dari asesor nasional."
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@asynccontextmanager
async def tim_chat(
    channel: str, fake_telegram: FakeBotAPI, fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path
) -> AsyncIterator[tuple[RunningBot, Chatter]]:
    """An open Pemdi campaign and a member of the Tim SPBE, registered by code in a chat on `channel`."""
    settings = (
        bot_settings(fake_telegram, tmp_path) if channel == "telegram" else whatsapp_settings(fake_whatsapp, tmp_path)
    )
    await open_broadcast(settings, {"DINKES": 1}, now=datetime.now().astimezone(), framework=PEMDI)
    chatter: Chatter
    if channel == "telegram":
        chatter = TelegramChatter(fake_telegram, fake_telegram.user(700_101, first_name="Rina"))
    else:
        chatter = WhatsAppChatter(fake_whatsapp, fake_whatsapp.user(wa_id="6281234567101", name="Rina"))
    async with running_bot(settings) as bot:
        (greeting, *_) = await chatter.say(f"/daftar {await code_for(bot, Role.TIM)}")
        assert "Pendaftaran berhasil" in greeting
        yield bot, chatter


async def _scores(bot: RunningBot) -> dict[str, tuple[int, str, str | None]]:
    async with bot.app.services.db.read() as session:
        rows = (await session.scalars(select(CampaignScore))).all()
    return {r.item_code: (r.level, r.penjelasan, r.source) for r in rows}


@pytest.mark.parametrize("channel", CHANNELS)
async def test_a_score_entered_in_chat_with_its_evidence_level_names_and_the_simulation(
    channel: str, fake_telegram: FakeBotAPI, fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path
) -> None:
    async with tim_chat(channel, fake_telegram, fake_whatsapp, tmp_path) as (bot, chat):
        (summary,) = await chat.say("/nilai")
        assert "Sudah dinilai: 0 dari 20 indikator" in plain(summary)
        assert "belum lengkap: 20 indikator" in plain(summary) and SIMULATION in plain(summary)
        assert "Tata Kelola dan Manajemen (10%): belum lengkap, 2 dari 2 indikator" in plain(summary)
        assert chat.choices()[:3] == ["Isi nilai", "Prioritas indikator", "Impor nilai"]
        (page,) = await chat.press(1)
        assert "halaman 1 dari 3" in plain(page) and "Tata Kelola dan Manajemen" in plain(page)
        assert len(chat.choices()) == 8 and chat.choices()[0].startswith("I.01")
        (indicator,) = await chat.press(1)
        assert "I.01 Tingkat Kematangan Tata Kelola Pemerintah Digital" in plain(indicator)
        assert "Data dukung: tidak diminta dari OPD" in plain(indicator)  # this campaign asks DINKES only
        assert [c[:7] for c in chat.choices()] == ["Level 1", "Level 2", "Level 3", "Level 4", "Level 5"]
        (asked,) = await chat.press(4)
        assert "level 4" in plain(asked) and "penjelasan" in plain(asked)
        (confirm,) = await chat.say("Renstra memuat RAN Pemdi; SK Tim Koordinasi ada; reviu belum.")
        assert "Level: 4" in plain(confirm) and chat.choices() == ["Simpan nilai"]
        (saved,) = await chat.press(1)
        assert "Nilai I.01 tersimpan: level 4" in plain(saved)
        assert "belum lengkap: 19 indikator" in plain(saved) and SIMULATION in plain(saved)

        # A Pemdi indicator scored from another agency's assessment asks for its source.
        await chat.say("/nilai I.05")
        await chat.press(3)
        (source,) = await chat.say("Nilai dari evaluasi SDI.")
        assert "penilaian instansi lain" in plain(source)
        (confirm,) = await chat.say("Evaluasi Satu Data Indonesia 2025 (Bappenas)")
        assert "Sumber: Evaluasi Satu Data Indonesia 2025 (Bappenas)" in plain(confirm)
        (saved,) = await chat.press(1)
        assert "Nilai I.05 tersimpan: level 3" in plain(saved)

        (evidence,) = await chat.say("/nilai I.13")
        assert "Data dukung: ada OPD yang belum mengirim" in plain(evidence)
        assert "Belum diterima dari: DINKES" in plain(evidence)

        # Bad input: an indicator not in the framework, a forged level; nothing changes.
        (unknown,) = await chat.say("/nilai I.99")
        assert "Indikator I.99 tidak ada dalam kegiatan ini" in plain(unknown)
        # The ranking ("Prioritas peningkatan"): the Kasi scored I.13 (from the console), for which DINKES sent nothing.
        async with bot.app.services.db.write() as session:
            kasi = await session.scalar(select(RoleAssignment.person_id).where(RoleAssignment.role == Role.KASI.value))
            campaign = await session.scalar(select(Campaign.id))
            by_kasi = Acting(kasi, "kasi", "console")
            await scores.record_score(session, campaign or 0, "I.13", 1, "Belum.", acting=by_kasi, now=bot.app.now())
        (summary,) = await chat.say("/nilai")
        (ranking,) = await chat.press(2)
        scored = await _scores(bot)
        async with bot.app.services.db.read() as session:
            audited = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "score_recorded"))).all()
    assert "Sudah dinilai: 3 dari 20 indikator" in plain(summary)
    ranked = plain(ranking).splitlines()
    assert ranked[0] == "Prioritas peningkatan — Evaluasi Mandiri SPBE 2026"
    first, second, third = (line for line in ranked if line[:2] in ("1.", "2.", "3."))
    assert first.startswith("1. I.13 ") and "level 1, +0,05 per level" in first
    assert "⚠️ data dukung: ada OPD yang belum mengirim" in first
    assert second.startswith("2. I.05 ") and third.startswith("3. I.01 ") and "⚠️" not in second + third
    assert "Belum dinilai: 17 indikator" in plain(ranking) and SIMULATION in plain(ranking)
    del scored["I.13"]
    assert scored == {
        "I.01": (4, "Renstra memuat RAN Pemdi; SK Tim Koordinasi ada; reviu belum.", None),
        "I.05": (3, "Nilai dari evaluasi SDI.", "Evaluasi Satu Data Indonesia 2025 (Bappenas)"),
    }
    assert len(audited) == 3 and {a.channel for a in audited} == {channel, "console"}


async def test_a_forged_level_button_changes_nothing(
    fake_telegram: FakeBotAPI, fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path
) -> None:
    async with tim_chat("telegram", fake_telegram, fake_whatsapp, tmp_path) as (bot, chat):
        assert isinstance(chat, TelegramChatter)
        await chat.say("/nilai I.02")
        before = len(fake_telegram.sent_messages(chat.user.id))
        chat.user.press("nil:l:1:I.02:7", forge=True)
        chat.user.press("nil:l:1:I.77:3", forge=True)
        messages = await fake_telegram.wait_for_messages(chat.user.id, before + 2)
        texts = [plain(str(m.get("text"))) for m in messages[before:]]
        assert await _scores(bot) == {}
    assert "Level 7 tidak berlaku. Level yang dapat dipilih: 1 sampai 5" in texts[0]
    assert "Indikator I.77 tidak ada dalam kegiatan ini" in texts[1]


def _filled_template(data: bytes) -> bytes:
    """The template the bot sent, filled in as a person would in Excel: two levels, one Pemdi source."""
    workbook = load_workbook(io.BytesIO(data))
    sheet = workbook.active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    assert header[:4] == ["indikator", "level", "penjelasan", "sumber"]
    for row in sheet.iter_rows(min_row=2):
        if row[0].value == "I.02":
            row[1].value, row[2].value = 2, "Manajemen layanan baru sebagian."
        if row[0].value == "I.06":
            row[1].value, row[2].value, row[3].value = 4, "Simpul jaringan aktif.", "Penilaian SJIG 2025 (BIG)"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


async def test_the_import_in_chat_round_trips_the_template_on_telegram(
    fake_telegram: FakeBotAPI, fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path
) -> None:
    async with tim_chat("telegram", fake_telegram, fake_whatsapp, tmp_path) as (bot, chat):
        assert isinstance(chat, TelegramChatter)
        await chat.say("/nilai")
        asked, _ = await chat.press(3, replies=2)
        assert "Mohon kirim berkas nilai" in plain(asked)
        sent = fake_telegram.sent_messages(chat.user.id)[-1]
        document = sent["document"]
        assert isinstance(document, dict) and document["file_name"].startswith("nilai-kegiatan-")
        template = fake_telegram.files[str(document["file_id"])].data
        bad = b"indikator,level,penjelasan\nI.01,7,Terlalu tinggi\nI.99,3,Bukan indikator\nI.06,3,Tanpa sumber\n"
        (rejected,) = await chat.send_document(bad, "nilai.csv")
        assert "ditolak; tidak ada yang disimpan" in plain(rejected)
        assert "baris 2, kolom level: “7” bukan level yang berlaku" in plain(rejected)
        assert "baris 3, kolom indikator: indikator I.99 tidak ada dalam kegiatan ini" in plain(rejected)
        assert "baris 4, kolom sumber" in plain(rejected)
        assert await _scores(bot) == {}
        (checked,) = await chat.send_document(_filled_template(template), "nilai-terisi.xlsx")
        assert "2 nilai baru, 0 diubah, 0 tetap, 18 baris kosong dilewati" in plain(checked)
        assert chat.choices() == ["Simpan hasil impor"]
        (stored,) = await chat.press(1)
        assert "Hasil impor nilai-terisi.xlsx tersimpan: 2 nilai baru" in plain(stored)
        assert "belum lengkap: 18 indikator" in plain(stored) and SIMULATION in plain(stored)
        assert await _scores(bot) == {
            "I.02": (2, "Manajemen layanan baru sebagian.", None),
            "I.06": (4, "Simpul jaringan aktif.", "Penilaian SJIG 2025 (BIG)"),
        }


async def test_the_import_in_chat_on_whatsapp(
    fake_telegram: FakeBotAPI, fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path
) -> None:
    async with tim_chat("whatsapp", fake_telegram, fake_whatsapp, tmp_path) as (bot, chat):
        await chat.say("/nilai")
        await chat.press(3, replies=2)
        data = b"indikator,level,penjelasan\nI.03,5,SDM digital lengkap\n"
        (checked,) = await chat.send_document(data, "nilai.csv")
        assert "1 nilai baru, 0 diubah, 0 tetap" in plain(checked)
        (stored,) = await chat.press(1)
        assert "tersimpan: 1 nilai baru" in plain(stored)
        assert await _scores(bot) == {"I.03": (5, "SDM digital lengkap", None)}
