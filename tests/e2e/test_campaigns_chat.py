"""Campaigns end to end in chat: the creation flow, Kasi → Kabid disposition, the signed letter, the broadcast."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli.support import cli_acting
from bot.services import campaigns, registry
from storage.models import CampaignState, Role
from tests.e2e.harness import RunningBot, bot_settings, registered, running_bot, say
from tests.fake_telegram.actors import FakeUser
from tests.fake_telegram.server import FakeBotAPI

pytestmark = pytest.mark.e2e

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


async def import_opds(bot: RunningBot) -> None:
    acting = await cli_acting(bot.app)
    async with bot.app.services.db.write() as session:
        rows = registry.parse_opd_file(registry.default_opd_file())
        await registry.import_opds(session, rows, acting=acting, now=bot.app.now())


async def press(fake: FakeBotAPI, user: FakeUser, label: str, replies: int = 1) -> list[str]:
    """Press the button with this label on the user's latest message that shows it."""
    for message in reversed(fake.sent_messages(user.id)):
        for button in user.buttons(message["message_id"]):
            if button["text"].startswith(label):
                before = len(fake.sent_messages(user.id))
                user.press(button["callback_data"], message["message_id"])
                got = await fake.wait_for_messages(user.id, before + replies)
                return [m.get("text") or m.get("caption") or "" for m in got[before:]]
    raise AssertionError(f"no button {label!r} for user {user.id}")


async def send_file(fake: FakeBotAPI, user: FakeUser, data: bytes, name: str) -> str:
    before = len(fake.sent_messages(user.id))
    user.send_document(data, name)
    return (await fake.wait_for_messages(user.id, before + 1))[-1]["text"]


async def test_create_submit_return_approve_sign_and_open(fake_telegram: FakeBotAPI, tmp_path: Path) -> None:
    async with running_bot(bot_settings(fake_telegram, tmp_path)) as bot:
        await import_opds(bot)
        kasi = await registered(fake_telegram, bot, 110, Role.KASI)
        kabid = await registered(fake_telegram, bot, 120, Role.KABID)
        secretary = await registered(fake_telegram, bot, 130, Role.SEKRETARIAT)

        # /batal leaves nothing half-made
        await say(fake_telegram, kasi, "/kampanye")
        await press(fake_telegram, kasi, "Kegiatan Monev baru")
        await say(fake_telegram, kasi, "Percobaan")
        assert "Dibatalkan" in (await say(fake_telegram, kasi, "/batal"))[0]

        # the guided flow
        assert "Belum ada kegiatan Monev" in (await say(fake_telegram, kasi, "/kampanye"))[0]
        assert "ketik judulnya" in (await press(fake_telegram, kasi, "Kegiatan Monev baru"))[0]
        assert "pilih daftar item" in (await say(fake_telegram, kasi, "Evaluasi Mandiri SPBE 2026"))[0]
        assert "tenggat" in (await press(fake_telegram, kasi, "PermenPANRB 8/2026"))[0]
        assert "tidak dikenali" in (await say(fake_telegram, kasi, "akhir bulan"))[0]
        assert "sudah lewat" in (await say(fake_telegram, kasi, "01-01-2020"))[0]
        asked = (await say(fake_telegram, kasi, "29-05-2027"))[0]
        assert "Sabtu, 29 Mei 2027 pukul 23.59 WIB" in asked
        assert "draf surat" in (await press(fake_telegram, kasi, "Semua OPD"))[0]
        assert "bukan PDF" in await send_file(fake_telegram, kasi, b"MZ\x90\x00 not a pdf", "surat.pdf")
        detail = await send_file(fake_telegram, kasi, PDF, "draf-undangan.pdf")
        assert "#1 Evaluasi Mandiri SPBE 2026" in detail and "20 item" in detail
        assert "DISKOMINFO: 16 item" in detail and "Langkah 0" in detail, detail

        # Kasi → Kabid, returned with a note, resubmitted, approved
        assert "diajukan ke Kabid" in (await press(fake_telegram, kasi, "Ajukan ke Kabid"))[0]
        assert "sudah diproses" in (await press(fake_telegram, kasi, "Ajukan ke Kabid"))[0]
        summary = await fake_telegram.wait_for(
            lambda: [m for m in fake_telegram.sent_messages(120) if "Mohon disposisi" in (m.get("text") or "")]
        )
        assert "DISKOMINFO: 16 item" in summary[0]["text"]
        letters = await fake_telegram.wait_for(
            lambda: [m["document"]["file_name"] for m in fake_telegram.sent_messages(120) if m.get("document")]
        )
        assert letters == ["draf-undangan.pdf"]  # the draft letter, once
        assert "catatan" in (await press(fake_telegram, kabid, "Kembalikan"))[0]
        assert "dikembalikan" in (await say(fake_telegram, kabid, "Tambahkan kecamatan", replies=1))[0]
        told = await fake_telegram.wait_for(
            lambda: [t for t in fake_telegram.texts(110) if "mengembalikan" in t and "Tambahkan kecamatan" in t]
        )
        assert told
        await say(fake_telegram, kasi, "/kampanye #1")
        await press(fake_telegram, kasi, "Ajukan ke Kabid")
        await fake_telegram.wait_for(
            lambda: len([m for m in fake_telegram.sent_messages(120) if m.get("document")]) == 2
        )
        assert "disetujui" in (await press(fake_telegram, kabid, "Setujui"))[0]
        assert "sudah diproses" in (await press(fake_telegram, kabid, "Setujui"))[0]
        await fake_telegram.wait_for(lambda: [t for t in fake_telegram.texts(110) if "menyetujui" in t])

        # step 2: the signed letter, then the broadcast confirmation
        (shown,) = await say(fake_telegram, secretary, "/kampanye #1")
        assert "disetujui, menunggu surat bertanda tangan" in shown
        assert "ditandatangani" in (await press(fake_telegram, secretary, "Unggah surat bertanda tangan"))[0]
        confirm = await send_file(fake_telegram, secretary, PDF.replace(b"%%EOF", b"% ttd\n%%EOF"), "surat-ttd.pdf")
        assert "Kirim undangan" in confirm
        assert [b["text"] for b in secretary.buttons()] == ["Kirim undangan ke 11 OPD (0 penghubung)"]
        assert "pengumpulan data berjalan untuk 11 OPD" in (await press(fake_telegram, secretary, "Kirim undangan"))[0]
        async with bot.app.services.db.read() as session:
            detail_after = await campaigns.campaign_detail(session, 1)
        assert detail_after.state == CampaignState.OPEN
        assert [e.kind for e in detail_after.events] == [
            "created",
            "submitted",
            "returned",
            "submitted",
            "approved",
            "signed",
            "open",
        ]


async def test_roles_and_buttons_are_checked(fake_telegram: FakeBotAPI, tmp_path: Path) -> None:
    async with running_bot(bot_settings(fake_telegram, tmp_path)) as bot:
        await import_opds(bot)
        liaison = await registered(fake_telegram, bot, 200, Role.OPD, "DINKES")
        tim = await registered(fake_telegram, bot, 210, Role.TIM)
        assert "tidak tersedia untuk peran Anda" in (await say(fake_telegram, liaison, "/kampanye"))[0]
        liaison.press("kmp:baru", forge=True)
        forged = await fake_telegram.wait_for_messages(200, 3)
        assert "bukan untuk Anda" in forged[-1]["text"]
        (listing,) = await say(fake_telegram, tim, "/kampanye")
        assert "Kegiatan Monev baru" not in [b["text"] for b in tim.buttons()] and "Belum ada kegiatan Monev" in listing
        tim.press("kmp:baru", forge=True)
        refused = await fake_telegram.wait_for_messages(210, 3)
        assert "bukan untuk Anda" in refused[-1]["text"]
