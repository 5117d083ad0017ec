"""End to end: the real python-telegram-bot Application over HTTP against the fake Bot API."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from bot.channels.telegram.channel import TelegramChannel
from bot.cli.support import cli_acting
from bot.services import registry
from storage.models import Role, StoredFile, UnfiledUpload
from tests.e2e.harness import (
    LogExpectations,
    RunningBot,
    bot_settings,
    free_port,
    journal_rows,
    registered,
    running_bot,
)
from tests.fake_telegram.actors import FakeUser
from tests.fake_telegram.server import FakeBotAPI

pytestmark = pytest.mark.e2e


async def sender_of_files(fake: FakeBotAPI, bot: RunningBot, user_id: int) -> FakeUser:
    """A liaison whose OPD no campaign asks yet: their files are downloaded and kept, not filed to an item."""
    acting = await cli_acting(bot.app)
    async with bot.app.services.db.write() as session:
        rows = registry.parse_opd_file(registry.default_opd_file())
        await registry.import_opds(session, rows, acting=acting, now=bot.app.now())
    return await registered(fake, bot, user_id, Role.OPD, "DINKES")


def pdf_of(size: int) -> bytes:
    """A file that passes the content check: a PDF header, random bytes, the end marker."""
    return b"%PDF-1.7\n" + os.urandom(size - 16) + b"\n%%EOF\n"


async def test_start_and_help_by_long_polling(fake_telegram: FakeBotAPI, tmp_path: Path) -> None:
    user = fake_telegram.user(1001, first_name="Sari")
    async with running_bot(bot_settings(fake_telegram, tmp_path)) as bot:
        user.send_text("/start")
        user.send_text("/help")
        replies = await fake_telegram.wait_for_messages(1001, 2)
        assert "Selamat datang di Bot Monev SPBE Kota Pontianak, Sari" in replies[0]["text"]
        assert "Perintah yang bisa Anda pakai" in replies[1]["text"]
        await bot.wait_idle()
        rows = await journal_rows(bot.app.services.db)
        assert [r.status for r in rows] == ["replied", "replied"]
        # the menu was published and the username remembered for deep links
        assert [c["command"] for c in fake_telegram.get_commands()] == ["start", "help", "batal", "saya", "daftar"]
        (telegram,) = bot.runtime.channels  # Telegram alone: no console channel runs beside it
        assert isinstance(telegram, TelegramChannel) and telegram.username == fake_telegram.bot_username
        assert list(bot.runtime.inbound) == ["telegram"]  # one journal loop, Telegram's


async def test_start_payload_reaches_the_handler(fake_telegram: FakeBotAPI, tmp_path: Path) -> None:
    user = fake_telegram.user(1002)
    async with running_bot(bot_settings(fake_telegram, tmp_path)):
        user.send_text("/start K7QM2X9DABCDEFGHJKMN")
        (reply,) = await fake_telegram.wait_for_messages(1002, 1)
        assert "Kode undangan tidak dikenal" in reply["text"]  # the deep-link payload went to registration


async def test_webhook_mode_journals_then_answers(fake_telegram: FakeBotAPI, tmp_path: Path) -> None:
    port = free_port()
    settings = bot_settings(
        fake_telegram,
        tmp_path,
        MONEV_HTTP_PORT=str(port),
        MONEV_WEBHOOK_URL=f"http://127.0.0.1:{port}",
        MONEV_WEBHOOK_SECRET="rahasia-webhook_1",
    )
    user = fake_telegram.user(1003)
    async with running_bot(settings) as bot:
        await fake_telegram.wait_for(lambda: fake_telegram.webhook)
        assert fake_telegram.webhook is not None and fake_telegram.webhook.url == f"http://127.0.0.1:{port}/telegram"
        user.send_text("/help")
        (reply,) = await fake_telegram.wait_for_messages(1003, 1)
        assert "Perintah yang bisa Anda pakai" in reply["text"]
        forged = {
            "update_id": 999999,
            "message": {
                "message_id": 1,
                "date": 0,
                "text": "/start",
                "chat": {"id": 1003, "type": "private"},
                "from": {"id": 1003, "is_bot": False, "first_name": "X"},
            },
        }
        async with aiohttp.ClientSession() as http:
            for secret in ("salah", None):
                headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
                async with http.post(f"http://127.0.0.1:{port}/telegram", json=forged, headers=headers) as response:
                    assert response.status == 403
            async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                health = await response.json()
        assert health["database"] == "ok" and health["is_lease_holder"] is True
        assert health["lease_holder"] == bot.runtime.instance
        rows = await journal_rows(bot.app.services.db)
        assert "999999" not in [r.update_key for r in rows]
        assert len(fake_telegram.sent_messages(1003)) == 1


async def test_group_messages_get_only_the_private_chat_hint(fake_telegram: FakeBotAPI, tmp_path: Path) -> None:
    group = fake_telegram.group(-100777)
    fake_telegram.user(1004)
    async with running_bot(bot_settings(fake_telegram, tmp_path)):
        group.send_text(1004, "/status")
        (reply,) = await fake_telegram.wait_for_messages(-100777, 1)
        assert reply["text"] == "Silakan chat pribadi dengan bot ini."


async def test_chats_run_concurrently_while_each_chat_stays_in_order(fake_telegram: FakeBotAPI, tmp_path: Path) -> None:
    quick = fake_telegram.user(2002)
    async with running_bot(bot_settings(fake_telegram, tmp_path)) as bot:
        slow = await sender_of_files(fake_telegram, bot, 2001)
        fake_telegram.throttle_downloads(400_000)  # a 1 MB file takes ~2.5 s to download
        slow.send_document(pdf_of(1_000_000), "laporan.pdf")
        slow.send_text("/help")
        await fake_telegram.wait_for(lambda: fake_telegram.calls_of("getFile"))
        quick.send_text("/help")
        await fake_telegram.wait_for_messages(2002, 1)
        assert len(fake_telegram.texts(2001)) == 1, fake_telegram.texts(2001)  # still downloading
        _, receipt, help_reply = await fake_telegram.wait_for_messages(2001, 3, timeout=20)
        assert "Berkas diterima" in receipt["text"]
        assert "Perintah yang bisa Anda pakai" in help_reply["text"]


async def test_a_429_is_honoured(fake_telegram: FakeBotAPI, tmp_path: Path) -> None:
    user = fake_telegram.user(3001)
    fake_telegram.inject_error("sendMessage", error_code=429, retry_after=1, chat_id=3001)
    async with running_bot(bot_settings(fake_telegram, tmp_path)):
        started = time.monotonic()
        user.send_text("/help")
        (reply,) = await fake_telegram.wait_for_messages(3001, 1)
        assert time.monotonic() - started >= 1.0
        assert "Perintah" in reply["text"]
        assert len(fake_telegram.calls_of("sendMessage")) == 2


async def test_a_5_mb_document_is_streamed_into_the_store(fake_telegram: FakeBotAPI, tmp_path: Path) -> None:
    data = pdf_of(5 * 1024 * 1024)
    digest = hashlib.sha256(data).hexdigest()
    async with running_bot(bot_settings(fake_telegram, tmp_path)) as bot:
        user = await sender_of_files(fake_telegram, bot, 4001)
        user.send_document(data, "../../rahasia/Data Dukung 2026.pdf", caption="I.01")
        _, receipt = await fake_telegram.wait_for_messages(4001, 2, timeout=20)
        assert digest[:8] in receipt["text"]
        assert "5,0 MB" in receipt["text"]
        stored = bot.app.services.files.path_for(digest)
        assert hashlib.sha256(stored.read_bytes()).hexdigest() == digest
        async with bot.app.services.db.read() as session:
            upload = (await session.scalars(select(UnfiledUpload))).one()
            assert (upload.sha256, upload.size, upload.file_name) == (
                digest,
                len(data),
                "Data Dukung 2026.pdf",
            )
            assert await session.scalar(select(StoredFile.size)) == len(data)


async def test_an_oversize_file_is_refused_before_download(fake_telegram: FakeBotAPI, tmp_path: Path) -> None:
    stranger = fake_telegram.user(4003)
    async with running_bot(bot_settings(fake_telegram, tmp_path, MONEV_TELEGRAM_MAX_FILE_MB="1")) as bot:
        user = await sender_of_files(fake_telegram, bot, 4002)
        user.send_document(pdf_of(1024 * 1024 + 10), "besar.pdf")
        _, reply = await fake_telegram.wait_for_messages(4002, 2)
        assert "terlalu besar" in reply["text"] and "1 MB" in reply["text"]
        stranger.send_document(b"%PDF-1.4 isi", "a.pdf")
        (refused,) = await fake_telegram.wait_for_messages(4003, 1)
        assert "belum terdaftar" in refused["text"]
        assert fake_telegram.calls_of("getFile") == []


async def test_failed_handlers_are_retried_then_marked_failed(
    fake_telegram: FakeBotAPI, tmp_path: Path, expect_log: LogExpectations
) -> None:
    expect_log("bot.messaging.inbound", r"^handling journal row 2 \(telegram update 2\) failed$")
    expect_log("bot.messaging.inbound", r"^journal row 2 failed 3 times; giving up$")
    async with running_bot(bot_settings(fake_telegram, tmp_path)) as bot:
        user = await sender_of_files(fake_telegram, bot, 5001)
        fake_telegram.inject_error("getFile", error_code=500, description="Internal Server Error", times=10)
        user.send_document(b"%PDF-1.4 isi", "a.pdf")
        _, reply = await fake_telegram.wait_for_messages(5001, 2, timeout=15)
        assert "Maaf, terjadi kesalahan" in reply["text"]
        await bot.wait_idle()
        _, row = await journal_rows(bot.app.services.db)
        assert (row.status, row.attempts) == ("failed", 3)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{bot.runtime.web.port}/healthz") as response:
                assert (await response.json())["failed_rows"] == 1


async def test_unknown_update_kinds_are_marked_done(fake_telegram: FakeBotAPI, tmp_path: Path) -> None:
    fake_telegram.user(6001)
    async with running_bot(bot_settings(fake_telegram, tmp_path)) as bot:
        edit = fake_telegram.enqueue(
            {
                "edited_message": {
                    "message_id": 5,
                    "date": 0,
                    "edit_date": 1,
                    "text": "ralat",
                    "chat": {"id": 6001, "type": "private"},
                    "from": {"id": 6001, "is_bot": False, "first_name": "A"},
                }
            }
        )
        await bot.wait_idle()
        rows = await journal_rows(bot.app.services.db)
        assert [(r.update_key, r.chat_key, r.status, r.attempts, json.loads(r.replies or "null")) for r in rows] == [
            (str(edit["update_id"]), "6001", "replied", 0, [])
        ]
        assert fake_telegram.sent_messages(6001) == []


async def test_a_poll_that_cannot_be_journaled_is_asked_for_again_and_answered(
    fake_telegram: FakeBotAPI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Another process holds SQLite's write lock past the busy timeout: the poll's journal commit fails. The updates
    # were not confirmed (the offset did not move), so the next getUpdates brings them again; the bot keeps running.
    settings = bot_settings(fake_telegram, tmp_path, MONEV_LEASE_RENEW_SECONDS="2", MONEV_LEASE_TIMEOUT_SECONDS="60")
    async with running_bot(settings) as bot:
        user = fake_telegram.user(9100)
        user.send_text("/start")  # the bot is up, its start-up jobs done
        await fake_telegram.wait_for_messages(user.id, 1)
        await bot.wait_idle()
        await bot.app.scheduler.pause()  # the jobs would fail on the lock too: the poll is what this is about
        database = settings.database_url.split(":///", 1)[1]
        other_process = sqlite3.connect(database, isolation_level=None)  # not the bot's driver, not its turns
        other_process.execute("BEGIN IMMEDIATE")
        try:
            user.send_text("/help")
            await fake_telegram.wait_for(
                lambda: any("could not journal 1 updates" in r.getMessage() for r in caplog.records), timeout=30
            )
            assert len(fake_telegram.sent_messages(user.id)) == 1
        finally:
            other_process.execute("ROLLBACK")
            other_process.close()
            bot.app.scheduler.resume()
        await fake_telegram.wait_for_messages(user.id, 2, timeout=15)
        await bot.wait_idle()
        rows = await journal_rows(bot.app.services.db)
        assert bot.runtime.is_holder
    assert [r.status for r in rows] == ["replied", "replied"]  # journaled once, when it could be
    assert len(fake_telegram.sent_messages(user.id)) == 2
