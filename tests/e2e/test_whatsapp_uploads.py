"""Data dukung from WhatsApp: downloaded at once, streamed and hashed, through the same intake as Telegram."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage.models import Role, SubmissionFile, SubmissionVersion, UploadBatch
from tests.e2e.broadcast_world import PDF, open_broadcast, tagged_pdf
from tests.e2e.harness import MovableClock, RunningBot, code_for
from tests.e2e.whatsapp_world import say, whatsapp_bot, whatsapp_settings
from tests.fake_whatsapp import FakeWhatsAppAPI, FakeWhatsAppUser, interactive_choices

pytestmark = pytest.mark.e2e
PEMDI = "permenpanrb-8-2026-pemdi"
JPEG_A, JPEG_B, JPEG_C = (b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes([n]) * 600 for n in (1, 2, 3))


async def liaison(fake: FakeWhatsAppAPI, bot: RunningBot) -> FakeWhatsAppUser:
    siti = fake.user(wa_id="6281234567001", name="Siti Aminah")
    await say(fake, siti, f"daftar {await code_for(bot, Role.OPD, 'DINKES')}", 3)  # welcome, invitation, request
    return siti


async def counts(bot: RunningBot) -> tuple[int, int, int]:
    async with bot.app.services.db.read() as session:
        versions = await session.scalar(select(func.count()).select_from(SubmissionVersion))
        files = await session.scalar(select(func.count()).select_from(SubmissionFile))
        batches = await session.scalar(select(func.count()).select_from(UploadBatch))
    return versions or 0, files or 0, batches or 0


async def next_message(fake: FakeWhatsAppAPI, user: FakeWhatsAppUser, clock: MovableClock) -> dict[str, object]:
    """The bot's next message once the upload's quiet time is over (the clock moves instead of the test waiting)."""
    before = len(user.messages())
    clock.advance(timedelta(seconds=3))
    return (await fake.wait_for_messages(user, before + 1, timeout=15))[before]


async def world(fake: FakeWhatsAppAPI, tmp_path: Path):  # type: ignore[no-untyped-def]
    settings = whatsapp_settings(fake, tmp_path)
    await open_broadcast(settings, {}, extra_opds=("DINKES",), now=datetime.now().astimezone(), framework=PEMDI)
    return settings


async def test_a_document_filed_by_picking_its_item_from_a_list(fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path) -> None:
    clock = MovableClock()
    async with whatsapp_bot(await world(fake_whatsapp, tmp_path), clock) as bot:
        siti = await liaison(fake_whatsapp, bot)
        assert (await siti.send_document(PDF, "perwal-spbe.pdf")).status == 200
        question = await next_message(fake_whatsapp, siti, clock)
        rows = interactive_choices(question, "list")
        assert "Untuk item mana" in fake_whatsapp.readable(question)
        assert rows[0]["title"].startswith("I.13") and all(len(r["title"]) <= 24 for r in rows)
        before = len(siti.messages())
        await siti.choose(rows[0]["id"])
        (receipt,) = (await fake_whatsapp.wait_for_messages(siti, before + 1, timeout=15))[before:]
        versions, files, _ = await counts(bot)
        async with bot.app.services.db.read() as session:
            (stored,) = (await session.scalars(select(SubmissionFile.sha256))).all()
    text = fake_whatsapp.readable(receipt)
    assert "Item: ```I.13```" in text or "Item: I.13" in text
    assert "perwal-spbe.pdf" in text and hashlib.sha256(PDF).hexdigest()[:8] in text
    assert (versions, files) == (1, 1)
    assert stored == hashlib.sha256(PDF).hexdigest()
    assert hashlib.sha256(bot.app.services.files.path_for(stored).read_bytes()).hexdigest() == stored


async def test_three_images_without_a_caption_are_one_version(fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path) -> None:
    clock = MovableClock()
    async with whatsapp_bot(await world(fake_whatsapp, tmp_path), clock) as bot:
        siti = await liaison(fake_whatsapp, bot)
        # Two in one POST, the third in a POST of its own a moment later: no album id, yet one album.
        assert (await fake_whatsapp.post_events([siti.image_event(JPEG_A), siti.image_event(JPEG_B)])).status == 200
        assert (await siti.send_image(JPEG_C)).status == 200
        await bot.wait_idle()
        question = await next_message(fake_whatsapp, siti, clock)
        rows = interactive_choices(question, "list")
        before = len(siti.messages())
        await siti.choose(rows[1]["id"])
        (receipt,) = (await fake_whatsapp.wait_for_messages(siti, before + 1, timeout=15))[before:]
        versions, files, batches = await counts(bot)
    assert (versions, files, batches) == (1, 3, 1)
    assert fake_whatsapp.readable(receipt).count("foto-") == 3


async def test_a_caption_naming_the_item_files_at_once(fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path) -> None:
    async with whatsapp_bot(await world(fake_whatsapp, tmp_path)) as bot:
        siti = await liaison(fake_whatsapp, bot)
        before = len(siti.messages())
        await siti.send_document(tagged_pdf(b"sk"), "sk-tim.pdf", caption="I.15 SK Tim")
        (receipt,) = (await fake_whatsapp.wait_for_messages(siti, before + 1, timeout=15))[before:]
        assert (await counts(bot))[:2] == (1, 1)
    assert "sk-tim.pdf" in fake_whatsapp.readable(receipt)


async def test_a_failed_download_is_answered_politely_and_records_nothing(
    fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path
) -> None:
    async with whatsapp_bot(await world(fake_whatsapp, tmp_path)) as bot:
        siti = await liaison(fake_whatsapp, bot)
        files = bot.app.services.files
        stored_before = {p for p in files.root.rglob("*") if p.is_file()}  # the invitation letter
        fake_whatsapp.inject_error("media_url", 2)  # the lookup fails
        fake_whatsapp.inject_network_error("media_download")  # then the retry's download is cut
        before = len(siti.messages())
        await siti.send_document(PDF, "laporan.pdf", caption="I.13")
        (answer,) = (await fake_whatsapp.wait_for_messages(siti, before + 1, timeout=15))[before:]
        await bot.wait_idle()
        assert await counts(bot) == (0, 0, 0)
        assert {p for p in files.root.rglob("*") if p.is_file()} == stored_before  # no blob, no temp file left
    assert fake_whatsapp.readable(answer).startswith("Mohon maaf, berkas *laporan.pdf* belum berhasil saya ambil")
