"""Refused uploads leave nothing on disk; names that hide their real extension, polyglots and nested archives fail.

Everything goes through the real transport: the fake Bot API serves the bytes, the bot downloads them into a temp
file of its store, judges them, and only then admits them.
"""

from __future__ import annotations

import struct
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.services import campaigns, items
from bot.services.audit import Acting
from storage.filestore import FileStore
from storage.models import ChannelIdentity, Person, Role, SubmissionFile
from tests.archives import zip_bytes
from tests.e2e.broadcast_world import PDF, open_broadcast, tagged_pdf
from tests.e2e.harness import RunningBot, bot_settings, code_for, registered, running_bot, say
from tests.e2e.test_campaigns_chat import import_opds, press
from tests.fake_telegram.actors import FakeUser
from tests.fake_telegram.server import FakeBotAPI

pytestmark = pytest.mark.e2e
PEMDI = "permenpanrb-8-2026-pemdi"
RLO = "\u202e"


def now() -> datetime:
    return datetime.now().astimezone()


def declaring_300_mb(archive: bytes) -> bytes:
    """The archive with its headers patched to declare 300 MB per member: a bomb that costs nothing to make."""
    data = bytearray(archive)
    for signature, field_at in ((b"PK\x01\x02", 24), (b"PK\x03\x04", 22)):
        start = data.find(signature)
        while start >= 0:
            data[start + field_at : start + field_at + 4] = struct.pack("<I", 300 * 1024 * 1024)
            start = data.find(signature, start + 4)
    return bytes(data)


def store_contents(files: FileStore) -> tuple[set[Path], set[Path]]:
    """(blobs in the store, files in its temp directory)."""
    blobs = {p for p in files.root.rglob("*") if p.is_file() and "tmp" not in p.relative_to(files.root).parts}
    temps = {p for p in (files.root / "tmp").glob("*")} if (files.root / "tmp").is_dir() else set()
    return blobs, temps


async def answer(fake: FakeBotAPI, user: FakeUser, data: bytes, name: str, caption: str | None = None) -> str:
    before = len(fake.sent_messages(user.id))
    user.send_document(data, name, caption=caption)
    return (await fake.wait_for_messages(user.id, before + 1, timeout=15))[-1].get("text") or ""


CONTENT_TYPES = b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'
REFUSED = [
    ("executable", b"MZ\x90\x00" + bytes(200), "laporan.pdf", "program atau skrip"),
    ("empty", b"", "kosong.pdf", "kosong (0 byte)"),
    ("bomb", zip_bytes({"nol.bin": bytes(5_000_000)}), "arsip.zip", "rasio pemadatan"),
    ("wrong type", zip_bytes({"isi.txt": b"bukan dokumen"}), "palsu.docx", "isinya sebenarnya arsip ZIP"),
    ("unknown", b"catatan rapat biasa\n", "catatan.txt", "tidak dikenali"),
    ("pdf+zip", PDF + zip_bytes({"setup.exe": b"MZ" + bytes(64)}), "surat.pdf", "disambung dengan data lain"),
    (
        "docx+exe",
        zip_bytes({"[Content_Types].xml": CONTENT_TYPES, "word/document.xml": b"<w/>", "payload.exe": b"MZ"}),
        "kebijakan.docx",
        "(payload.exe)",
    ),
    (
        "zip of stored bombs",
        zip_bytes({"bom.zip": declaring_300_mb(zip_bytes({"nol.bin": bytes(1000)}))}, zipfile.ZIP_STORED),
        "lampiran.zip",
        "termasuk arsip di dalamnya",
    ),
    ("named .exe", tagged_pdf(b"exe"), "laporan.exe", "bernama .exe,"),
    ("named .html", tagged_pdf(b"html"), "laporan.html", "bernama .html,"),
    ("right-to-left override", tagged_pdf(b"rlo"), f"laporan{RLO}fdp.exe", "Berkas laporanfdp.exe bernama .exe,"),
]


async def test_refused_uploads_leave_nothing_in_the_store_or_its_temp_directory(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    settings = bot_settings(fake_telegram, tmp_path)
    world = await open_broadcast(settings, {"DINKES": 1}, now=now(), framework=PEMDI)
    (chat,) = world.liaisons
    for user_id in (chat, world.uploader_chat, 900_001, 900_002):
        fake_telegram.user(user_id)
    liaison = fake_telegram.user(chat, first_name="Budi")
    async with running_bot(settings) as bot:
        await fake_telegram.wait_for_messages(chat, 2, timeout=15)  # the invitation and the data request
        files = bot.app.services.files
        before = store_contents(files)
        assert before[0] and not before[1]  # the signed letter is stored; nothing is in flight
        for label, data, name, reason in REFUSED:
            refused = await answer(fake_telegram, liaison, data, name, caption="I.13")
            assert reason in refused, (label, refused)
            assert RLO not in refused
            assert store_contents(files) == before, label

        # a harmless name that hides its characters is accepted, listed without them
        receipt = await answer(fake_telegram, liaison, tagged_pdf(b"ok"), f"lap{RLO}oran\u200b.pdf", caption="I.13")
        assert "Item: I.13" in receipt and "laporan.pdf" in receipt, receipt
        async with bot.app.services.db.read() as session:
            assert (await session.scalars(select(SubmissionFile.file_name))).all() == ["laporan.pdf"]
        blobs, temps = store_contents(files)
        assert len(blobs - before[0]) == 1 and not temps


async def test_a_polyglot_signed_letter_is_refused_and_not_kept(fake_telegram: FakeBotAPI, tmp_path: Path) -> None:
    async with running_bot(bot_settings(fake_telegram, tmp_path)) as bot:
        await import_opds(bot)
        kasi = await acting_as(bot, fake_telegram, 110, Role.KASI)
        kabid = await acting_as(bot, fake_telegram, 120, Role.KABID)
        secretary = await registered(fake_telegram, bot, 130, Role.SEKRETARIAT)
        async with bot.app.services.db.write() as session:
            campaign_id = await campaigns.create_campaign(
                session,
                title=f"Evaluasi {RLO}6202 SPBE",
                framework=PEMDI,
                items=items.framework_items(PEMDI),
                deadline=now() + timedelta(days=30),
                opd_codes=None,
                acting=kasi,
                now=now(),
            )
            await campaigns.submit_to_kabid(session, campaign_id, acting=kasi, now=now())
        async with bot.app.services.db.write() as session:
            await campaigns.decide(session, campaign_id, approve=True, note=None, acting=kabid, now=now())
        (shown,) = await say(fake_telegram, secretary, f"/kampanye #{campaign_id}")
        assert RLO not in shown and "Evaluasi 6202 SPBE" in shown, shown
        await press(fake_telegram, secretary, "Unggah surat bertanda tangan")
        files = bot.app.services.files
        before = store_contents(files)
        polyglot = PDF + zip_bytes({"setup.exe": b"MZ" + bytes(64)})
        refused = await answer(fake_telegram, secretary, polyglot, "surat-ttd.pdf")
        assert "disambung dengan data lain" in refused, refused
        assert store_contents(files) == before
        confirm = await answer(fake_telegram, secretary, tagged_pdf(b"ttd"), "surat-ttd.pdf")
        assert "Kirim undangan" in confirm, confirm


async def acting_as(bot: RunningBot, fake: FakeBotAPI, user_id: int, role: Role) -> Acting:
    """Register a Telegram user in a role; the acting identity services take for them."""
    await registered(fake, bot, user_id, role)
    async with bot.app.services.db.read() as session:
        person_id = await session.scalar(
            select(ChannelIdentity.person_id).where(ChannelIdentity.external_id == str(user_id))
        )
    return Acting(person_id, role.value, "telegram")


async def test_names_from_telegram_are_stored_without_invisible_characters(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    async with running_bot(bot_settings(fake_telegram, tmp_path)) as bot:
        admin = await registered(fake_telegram, bot, 4343, Role.ADMIN)
        user = fake_telegram.user(4242, first_name=f"Budi{RLO}\u200dSantoso\u2066")
        (greeting,) = await say(fake_telegram, user, f"/daftar {await code_for(bot, Role.KASI)}")
        assert "Pendaftaran berhasil" in greeting
        async with bot.app.services.db.read() as session:
            names = (await session.scalars(select(Person.display_name))).all()
        assert "BudiSantoso" in names
        assert not any(RLO in (n or "") for n in names)
        # the admins are told who registered, by the name as it is shown
        (notice,) = await fake_telegram.wait_for(
            lambda: [t for t in fake_telegram.texts(admin.id) if "BudiSantoso" in t], timeout=10
        )
        assert RLO not in notice and "\u2066" not in notice
