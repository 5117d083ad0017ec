"""Data dukung intake end to end, with real bytes: filing by caption and by button, albums, /kirim, on behalf."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
from datetime import datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select

from bot.services import campaigns
from bot.services.audit import Acting
from storage.models import CampaignItem, Role, SubmissionFile, SubmissionVersion
from tests.archives import zip_bytes
from tests.e2e.broadcast_world import PDF, World, open_broadcast, tagged_pdf
from tests.e2e.harness import MovableClock, bot_settings, code_for, registered, running_bot
from tests.fake_telegram.actors import FakeUser
from tests.fake_telegram.server import FakeBotAPI

pytestmark = pytest.mark.e2e
PEMDI = "permenpanrb-8-2026-pemdi"


def now() -> datetime:
    return datetime.now().astimezone()


def xlsx_bytes() -> bytes:
    book = openpyxl.Workbook()
    book.active.append(["Aplikasi", "Status"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def next_texts(fake: FakeBotAPI, user: FakeUser, count: int, action) -> list[str]:  # type: ignore[no-untyped-def]
    before = len(fake.sent_messages(user.id))
    action()
    messages = await fake.wait_for_messages(user.id, before + count, timeout=15)
    return [m.get("text") or "" for m in messages[before:]]


async def liaison_world(fake: FakeBotAPI, tmp_path: Path, **options: object) -> tuple[World, FakeUser]:
    settings = bot_settings(fake, tmp_path)
    world = await open_broadcast(settings, {"DINKES": 1}, now=now(), framework=PEMDI, **options)
    (chat,) = world.liaisons
    for user_id in (chat, world.uploader_chat, 900_001, 900_002):
        fake.user(user_id)
    return world, fake.user(chat, first_name="Budi")


async def test_filing_by_caption_button_album_kirim_and_duplicates(fake_telegram: FakeBotAPI, tmp_path: Path) -> None:
    world, liaison = await liaison_world(fake_telegram, tmp_path)
    async with running_bot(bot_settings(fake_telegram, tmp_path)) as bot:
        await fake_telegram.wait_for_messages(liaison.id, 2, timeout=15)  # the invitation and the data request

        # 1. the caption names the item
        (receipt,) = await next_texts(
            fake_telegram, liaison, 1, lambda: liaison.send_document(PDF, "perwal.pdf", caption="I.13 Perwal SPBE")
        )
        assert "Item: I.13" in receipt and "Versi: 1" in receipt and hashlib.sha256(PDF).hexdigest()[:8] in receipt
        assert "Masih kurang 6 item wajib" in receipt
        # the same file again is recognised
        (again,) = await next_texts(
            fake_telegram, liaison, 1, lambda: liaison.send_document(PDF, "perwal-lagi.pdf", caption="13")
        )
        assert "sudah diterima sebagai versi 1" in again

        # 2. send, then tap the item
        sheet = xlsx_bytes()
        (asked,) = await next_texts(fake_telegram, liaison, 1, lambda: liaison.send_document(sheet, "aplikasi.xlsx"))
        assert "Untuk item mana" in asked
        labels = [b["text"] for b in liaison.buttons()]
        assert labels[0].startswith("I.15") and labels[-1] == "Batal" and len(labels) == 7 + 1  # I.13 (sent) last
        (filed,) = await next_texts(fake_telegram, liaison, 1, lambda: liaison.press_button(1))
        assert "Item: I.15" in filed and "Versi: 1" in filed

        # 3. an album with parts 500 ms apart is one version
        group = fake_telegram.new_media_group_id()
        photo_a, photo_b = b"\xff\xd8\xff\xe0" + b"a" * 500, b"\x89PNG\r\n\x1a\n" + b"b" * 500
        liaison.send_document(photo_a, "foto-1.jpg", mime_type="image/jpeg", caption="I.16", media_group_id=group)
        await asyncio.sleep(0.5)
        (album,) = await next_texts(
            fake_telegram,
            liaison,
            1,
            lambda: liaison.send_document(photo_b, "foto-2.png", mime_type="image/png", media_group_id=group),
        )
        assert "Item: I.16" in album and "foto-1.jpg" in album and "foto-2.png" in album

        # 4. /kirim collects three files until Selesai
        await next_texts(fake_telegram, liaison, 1, lambda: liaison.send_text("/kirim I.17"))
        for n in range(3):
            await next_texts(
                fake_telegram, liaison, 1, lambda n=n: liaison.send_document(tagged_pdf(b"%d" % n), f"bagian-{n}.pdf")
            )
        (kirim,) = await next_texts(fake_telegram, liaison, 1, lambda: liaison.press_button(1))
        assert "Item: I.17" in kirim and all(f"bagian-{n}.pdf" in kirim for n in range(3))

        # 5. /status with both figures, /riwayat with the versions
        (status,) = await next_texts(fake_telegram, liaison, 1, lambda: liaison.send_text("/status"))
        assert "Kelengkapan: 57%" in status and "Terverifikasi: 0%" in status and "(4 dari 7 item wajib" in status
        (history,) = await next_texts(fake_telegram, liaison, 1, lambda: liaison.send_text("/riwayat"))
        assert "I.17 v1" in history and "bagian-2.pdf" in history

        async with bot.app.services.db.read() as session:
            versions = (await session.scalars(select(SubmissionVersion))).all()
            stored = (await session.scalars(select(SubmissionFile.sha256))).all()
        assert len(versions) == 4
        for sha in stored:
            assert hashlib.sha256(bot.app.services.files.path_for(sha).read_bytes()).hexdigest() == sha


async def test_refusals_forgeries_on_behalf_lateness_and_closing(fake_telegram: FakeBotAPI, tmp_path: Path) -> None:
    deadline = now() + timedelta(hours=1)
    world, liaison = await liaison_world(fake_telegram, tmp_path, deadline=deadline)
    clock = MovableClock()
    async with running_bot(bot_settings(fake_telegram, tmp_path), clock) as bot:
        await fake_telegram.wait_for_messages(liaison.id, 2, timeout=15)
        refusals = [
            (b"MZ\x90\x00" + b"\x00" * 200, "laporan.pdf"),
            (zip_bytes({"isi.txt": b"bukan dokumen"}), "palsu.docx"),
            (zip_bytes({"nol.bin": b"\x00" * 5_000_000}), "arsip.zip"),
            (b"", "kosong.pdf"),
        ]
        for data, name in refusals:
            (refused,) = await next_texts(
                fake_telegram, liaison, 1, lambda d=data, n=name: liaison.send_document(d, n, caption="I.13")
            )
            assert name in refused, refused
        # a caption naming another OPD's item, and forged buttons
        (other,) = await next_texts(
            fake_telegram, liaison, 1, lambda: liaison.send_document(PDF, "a.pdf", caption="I.02")
        )
        assert "Untuk item mana" in other  # I.02 is not DINKES's: not taken from the caption
        batch_button = liaison.buttons()[0]["callback_data"]
        batch = batch_button.split(":")[1]
        (forged_item,) = await next_texts(
            fake_telegram, liaison, 1, lambda: liaison.press(f"kir:{batch}:I.02", forge=True)
        )
        assert "tidak diminta dari" in forged_item
        stranger = await registered(fake_telegram, bot, 4242, Role.OPD, "DISKOMINFO")
        (forged,) = await next_texts(fake_telegram, stranger, 1, lambda: stranger.press(batch_button, forge=True))
        assert "bukan untuk Anda" in forged

        # on behalf: an admin files for DINKES; the liaison is told
        admin = await registered(fake_telegram, bot, 4343, Role.ADMIN)
        await next_texts(fake_telegram, admin, 1, lambda: admin.send_text("/kirim DINKES I.18"))
        await next_texts(fake_telegram, admin, 1, lambda: admin.send_document(tagged_pdf(b"surel"), "dari-surel.pdf"))
        (behalf,) = await next_texts(fake_telegram, admin, 1, lambda: admin.press_button(1))
        assert "atas nama Dinas Kesehatan" in behalf
        await fake_telegram.wait_for(lambda: any("atas nama" in t for t in fake_telegram.texts(liaison.id)), timeout=10)

        # a minute before the deadline: on time; a second after it: accepted, marked terlambat; after closing: refused
        clock.advance(deadline - bot.app.now() - timedelta(minutes=1))
        (on_time,) = await next_texts(
            fake_telegram, liaison, 1, lambda: liaison.send_document(tagged_pdf(b"tepat"), "tepat.pdf", caption="I.19")
        )
        assert "Item: I.19" in on_time and "Versi: 1" in on_time and "terlambat" not in on_time
        clock.advance(timedelta(minutes=1, seconds=1))
        (late,) = await next_texts(
            fake_telegram, liaison, 1, lambda: liaison.send_document(tagged_pdf(b"telat"), "telat.pdf", caption="I.19")
        )
        assert "Item: I.19" in late and "Versi: 2 — terlambat (tenggat" in late
        async with bot.app.services.db.read() as session:
            versions = await session.execute(
                select(SubmissionVersion.number, SubmissionVersion.late)
                .join(CampaignItem, CampaignItem.id == SubmissionVersion.campaign_item_id)
                .where(CampaignItem.code == "I.19")
                .order_by(SubmissionVersion.number)
            )
            assert [tuple(v) for v in versions] == [(1, False), (2, True)]
        async with bot.app.services.db.write() as session:
            await campaigns.close_collection(
                session, world.campaign_id, acting=Acting(None, "kabid"), now=bot.app.now()
            )
        (closed,) = await next_texts(
            fake_telegram, liaison, 1, lambda: liaison.send_document(tagged_pdf(b"tutup"), "t.pdf", caption="I.20")
        )
        assert "sudah ditutup" in closed


async def test_a_liaison_of_two_opds_is_asked_which_one_first(fake_telegram: FakeBotAPI, tmp_path: Path) -> None:
    settings = bot_settings(fake_telegram, tmp_path)
    world = await open_broadcast(settings, {"DINKES": 1, "DISKOMINFO": 1}, now=now(), framework=PEMDI)
    chat = min(world.liaisons)  # the DINKES liaison, who also becomes DISKOMINFO's
    for user_id in (*world.liaisons, world.uploader_chat):
        fake_telegram.user(user_id)
    liaison = fake_telegram.user(chat, first_name="Budi")
    async with running_bot(settings) as bot:
        await fake_telegram.wait_for_messages(chat, 2, timeout=15)
        code = await code_for(bot, Role.OPD, "DISKOMINFO")
        await next_texts(fake_telegram, liaison, 3, lambda: liaison.send_text(f"/daftar {code}"))  # + invitations

        (asked,) = await next_texts(
            fake_telegram, liaison, 1, lambda: liaison.send_document(PDF, "sk.pdf", caption="I.13")
        )
        assert "untuk OPD mana" in asked
        assert [b["text"] for b in liaison.buttons()] == ["DINKES", "DISKOMINFO", "Batal"]
        question_message = fake_telegram.sent_messages(chat)[-1]["message_id"]
        batch = liaison.buttons()[0]["callback_data"].split(":")[1]
        (forged,) = await next_texts(
            fake_telegram, liaison, 1, lambda: liaison.press(f"kir:{batch}:o:BPBD", forge=True)
        )
        assert "OPD Anda sendiri" in forged
        (receipt,) = await next_texts(fake_telegram, liaison, 1, lambda: liaison.press_button(2, question_message))
        assert "Komunikasi dan Informatika" in receipt and "Item: I.13" in receipt and "Versi: 1" in receipt
        (twice,) = await next_texts(fake_telegram, liaison, 1, lambda: liaison.press_button(1, question_message))
        assert "sudah diproses" in twice
        (status,) = await next_texts(fake_telegram, liaison, 1, lambda: liaison.send_text("/status DISKOMINFO"))
        assert "I.13" in status and "terkirim v1" in status


async def test_an_album_whose_parts_download_slowly_is_one_version(fake_telegram: FakeBotAPI, tmp_path: Path) -> None:
    """Each part takes ~2.5 s to download, longer than the album's 2 s quiet time: no part may be lost."""
    world, liaison = await liaison_world(fake_telegram, tmp_path)
    async with running_bot(bot_settings(fake_telegram, tmp_path)) as bot:
        await fake_telegram.wait_for_messages(liaison.id, 2, timeout=15)
        before = len(fake_telegram.sent_messages(liaison.id))
        fake_telegram.throttle_downloads(400_000)  # 1 MB a part: ~2.5 s each
        group = fake_telegram.new_media_group_id()
        parts = [PDF[:-7] + os.urandom(1_000_000) + b"\n%%EOF\n" for _ in range(2)]
        liaison.send_document(parts[0], "bagian-1.pdf", caption="I.16", media_group_id=group)
        liaison.send_document(parts[1], "bagian-2.pdf", media_group_id=group)
        messages = await fake_telegram.wait_for_messages(liaison.id, before + 1, timeout=30)
        (receipt,) = [m.get("text") or "" for m in messages[before:]]
        assert "Item: I.16" in receipt and "Versi: 1" in receipt
        assert "bagian-1.pdf" in receipt and "bagian-2.pdf" in receipt, receipt
        fake_telegram.throttle_downloads(None)
        async with bot.app.services.db.read() as session:
            versions = (await session.scalars(select(SubmissionVersion))).all()
            files = (await session.scalars(select(SubmissionFile.sha256).order_by(SubmissionFile.position))).all()
        assert [v.number for v in versions] == [1]
        assert files == [hashlib.sha256(p).hexdigest() for p in parts]
