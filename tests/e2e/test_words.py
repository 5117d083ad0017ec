"""Issue 12, items 15 and 16: the words people read — Bahasa Indonesia as local government writes it, "kegiatan Monev".

Every e2e test also passes each text the bot sent through the denylist (`tests/e2e/conftest.py`); this one drives
the texts where role codes, operator login names, English and technical words used to show.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from bot.cli.support import cli_acting
from bot.services import campaigns, items, registry
from storage.filestore import FileStore
from storage.models import Role
from tests.chat_words import offending
from tests.e2e.broadcast_world import register_one
from tests.e2e.harness import RunningBot, bot_settings, outbox_idle, registered, running_bot, say
from tests.e2e.test_campaigns_chat import press, send_file
from tests.fake_telegram.server import FakeBotAPI

pytestmark = pytest.mark.e2e

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
SPBE = "permenpanrb-59-2020"


async def collecting_campaign(bot: RunningBot) -> int:
    """A 59/2020 campaign for DISKOMINFO, prepared and submitted by the server's operator (the CLI person), open."""
    at = bot.app.now()
    cli = await cli_acting(bot.app)
    async with bot.app.services.db.write() as session:
        await registry.import_opds(session, registry.parse_opd_file(registry.default_opd_file()), acting=cli, now=at)
        campaign_id = await campaigns.create_campaign(
            session,
            title="Evaluasi Mandiri SPBE 2026",
            framework=SPBE,
            items=items.framework_items(SPBE),
            deadline=at + timedelta(days=30),
            opd_codes=["DISKOMINFO"],
            acting=cli,
            now=at,
        )
        kabid = await register_one(session, Role.KABID, None, 900_002, cli, at)
        secretary = await register_one(session, Role.SEKRETARIAT, None, 900_003, cli, at)
        await campaigns.submit_to_kabid(session, campaign_id, acting=cli, now=at)
        await campaigns.decide(session, campaign_id, approve=True, note=None, acting=kabid, now=at)
        blob = FileStore(bot.app.services.settings.files_dir).store_bytes(PDF)
        await campaigns.record_signed_letter(session, campaign_id, blob, "undangan.pdf", acting=secretary, now=at)
        await campaigns.open_campaign(session, campaign_id, acting=secretary, now=at)
        await campaigns.mark_broadcast_reported(session, campaign_id, at)  # opened without a broadcast to report
    return campaign_id


async def test_a_monev_round_is_a_kegiatan_and_kegiatan_is_its_command(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    """Item 16: "kampanye" reads as an election campaign; /kegiatan is the command and /kampanye still works."""
    async with running_bot(bot_settings(fake_telegram, tmp_path)) as bot:
        kasi = await registered(fake_telegram, bot, 110, Role.KASI)
        assert "Belum ada kegiatan Monev." in (await say(fake_telegram, kasi, "/kegiatan"))[0]
        assert [b["text"] for b in kasi.buttons()] == ["Kegiatan Monev baru"]
        assert (await press(fake_telegram, kasi, "Kegiatan Monev baru"))[0].startswith(
            "Kegiatan Monev baru (ketik /batal"
        )
        await say(fake_telegram, kasi, "/batal")
        campaign_id = await collecting_campaign(bot)
        listing = (await say(fake_telegram, kasi, "/kegiatan"))[0]
        assert "Kegiatan Monev SPBE" in listing and "/kegiatan #ID" in listing and "ampanye" not in listing
        detail = (await say(fake_telegram, kasi, f"/kegiatan #{campaign_id}"))[0]
        assert (await say(fake_telegram, kasi, f"/kampanye #{campaign_id}"))[0] == detail
        assert (
            "Kegiatan Monev #99 tidak ditemukan. Ketik /kegiatan"
            in (await say(fake_telegram, kasi, "/kegiatan #99"))[0]
        )
        help_text = (await say(fake_telegram, kasi, "/help"))[0]
        assert "/kegiatan [#ID] — Kegiatan Monev: status" in help_text and "/kampanye" not in help_text
        menu = [c["command"] for c in fake_telegram.get_commands()]
        assert "kampanye" not in menu
        assert [t for t in fake_telegram.texts(kasi.id) if "ampanye" in t] == []


async def test_texts_name_roles_people_and_weights_as_people_say_them(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    """Item 15: role names, "operator server", weights in percent, no English or technical words."""
    async with running_bot(bot_settings(fake_telegram, tmp_path)) as bot:
        kasi = await registered(fake_telegram, bot, 110, Role.KASI)
        campaign_id = await collecting_campaign(bot)
        liaison = await registered(fake_telegram, bot, 140, Role.OPD, "DISKOMINFO")
        await outbox_idle(bot.app.services.db)  # the invitation and the data request of the open kegiatan Monev

        # SOP steps by their names and roles as people say them; the operator is "operator server"
        detail = (await say(fake_telegram, kasi, f"/kegiatan #{campaign_id}"))[0]
        assert "Langkah 0 — Persiapan surat undangan (Kasi PK&AI)" in detail
        assert "Langkah 1 — Disposisi (Kabid TKPBET): " in detail
        assert "Langkah 3 — Pengumpulan data dukung (OPD): " in detail
        assert "dibuat oleh operator server" in detail and "diajukan ke Kabid oleh operator server" in detail

        # roles by their names in the welcome; weights as percentages; no English in the shipped OPD names
        assert "Peran Anda: Penghubung OPD." in (await say(fake_telegram, liaison, "/start"))[0]
        assert "Bobot: 1,3%" in (await say(fake_telegram, kasi, "/item I.01 DISKOMINFO"))[0]
        assert "DPRKP (Disperkim/Perkim)" in (await say(fake_telegram, kasi, "/opd"))[0]

        # invitations and requests address people as "Bapak/Ibu"
        invitation = [t for t in fake_telegram.texts(liaison.id) if "Permintaan data dukung" in t]
        assert invitation and "Mohon Bapak/Ibu mengirimkan data dukung" in invitation[0]
        letters = [t for t in fake_telegram.texts(liaison.id) if t.startswith("Undangan ")]
        assert letters and "Yth. Bapak/Ibu Penghubung OPD Dinas Komunikasi" in letters[0]

        # no technical names of programs
        before = len(fake_telegram.sent_messages(liaison.id))
        liaison.send_document(b"\x7fELF\x02\x01\x01" + bytes(200), "laporan.pdf")
        (refusal,) = [m["text"] for m in (await fake_telegram.wait_for_messages(liaison.id, before + 1))[before:]]
        assert "program atau skrip (untuk Linux)" in refusal

        assert [t for t in fake_telegram.texts() if offending(t)] == []


async def test_import_refusals_speak_bahasa_indonesia_and_name_the_sender_s_file(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    """Item 15: an item file refused in chat is named as the sender named it, and every reason is in Bahasa."""
    async with running_bot(bot_settings(fake_telegram, tmp_path)) as bot:
        kasi = await registered(fake_telegram, bot, 110, Role.KASI)
        await collecting_campaign(bot)  # the OPD registry
        await say(fake_telegram, kasi, "/kegiatan")
        # where the bot asks, it says "mohon"
        assert "Mohon ketik judulnya" in (await press(fake_telegram, kasi, "Kegiatan Monev baru"))[0]
        assert "Mohon pilih daftar item" in (await say(fake_telegram, kasi, "Evaluasi Mandiri SPBE 2027"))[0]
        assert "Mohon kirim berkas CSV" in (await press(fake_telegram, kasi, "Impor daftar item"))[0]
        rows = "kode,judul,deskripsi,wajib,opd\nA1,Kebijakan,SK,mungkin,DINKES\nA1,,SK,ya,DINKES;BPBD_X\n"
        refusal = await send_file(fake_telegram, kasi, rows.encode(), "daftar-item-dinkes.csv")
        assert refusal.startswith("Daftar item daftar-item-dinkes.csv ditolak; tidak ada yang disimpan.")
        assert "baris 2, kolom wajib: “mungkin” tidak dikenal; tulis ya atau tidak" in refusal
        assert "baris 3, kolom kode: kode ini sudah dipakai di baris 2" in refusal
        assert "baris 3, kolom judul: kosong" in refusal
        assert "baris 3, kolom opd: kode OPD tidak dikenal: BPBD_X" in refusal
        headerless = await send_file(fake_telegram, kasi, b"kode,judul\nA1,Kebijakan\n", "Item Monev.csv")
        assert "Daftar item Item Monev.csv ditolak" in headerless
        assert "baris judul kolom tidak memuat deskripsi, wajib, opd" in headerless
        odt = await send_file(fake_telegram, kasi, b"%PDF-1.4\n%%EOF\n", "item.pdf")
        assert "Daftar item item.pdf ditolak" in odt and "bukan berkas CSV atau Excel (XLSX)" in odt
        for text in (refusal, headerless, odt):
            assert "impor." not in text and not re.search(r"is not one of|unknown|repeats|header|line \d", text)


def test_shipped_data_shown_in_chat_is_in_bahasa_indonesia() -> None:
    """OPD names and indicator titles go into chat texts as they are: no English, no role codes."""
    shown = [f"{r.name} {r.short_name}" for r in registry.parse_opd_file(registry.default_opd_file(extended=True))]
    for framework in (SPBE, "permenpanrb-8-2026-pemdi"):
        shown += [f"{i.code} {i.title} {i.domain or ''} {i.aspect or ''}" for i in items.framework_items(framework)]
    assert {text: offending(text) for text in shown if offending(text)} == {}


def test_the_denylist_catches_what_it_names() -> None:
    assert offending("Langkah 3 (opd): 2 hari kerja") == ["role code: 'opd)'"]
    assert offending("dibuat oleh console:root; diunggah oleh cli:root") == [
        "console login name: 'console:'",
        "CLI login name: 'cli:'",
    ]
    assert offending("DPRKP (also called Disperkim)") == ["English: 'also called'"]
    assert offending("berisi program (Linux ELF)") == ["technical word: 'ELF'"]
    assert offending("Langkah 3 — Pengumpulan data dukung (OPD), oleh operator server, Kasi PK&AI") == []
