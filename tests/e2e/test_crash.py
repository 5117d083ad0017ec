"""Crash tests: `monev run` as a real process, killed with SIGKILL, restarted, nothing lost or doubled."""

from __future__ import annotations

import asyncio
import hashlib
import os
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from storage.database import Database
from storage.models import InboundEvent, SubmissionFile, SubmissionVersion, UnfiledUpload
from tests.e2e.broadcast_world import open_broadcast
from tests.e2e.harness import BotProcess, bot_settings, journal_rows, run_cli, sqlite_url, telegram_env
from tests.fake_telegram.server import FakeBotAPI

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def wait_for_row(db: Database, status: str, timeout: float = 15) -> InboundEvent:
    async with asyncio.timeout(timeout):
        while True:
            try:
                rows = await journal_rows(db)
            except OperationalError:  # the process has not created the schema yet
                rows = []
            if rows and rows[-1].status == status:
                return rows[-1]
            await asyncio.sleep(0.05)


async def monev(env: dict[str, str], cwd: Path, *args: str) -> str:
    """The real CLI, before the bot starts; its standard output."""
    code, out, err = await run_cli(env, cwd, *args)
    assert code == 0, err
    return out


async def invite_code(env: dict[str, str], cwd: Path) -> str:
    """A liaison's code from the real CLI, for an OPD no campaign asks yet (their files are kept unfiled)."""
    await monev(env, cwd, "opd", "import", "--default")
    return (await monev(env, cwd, "invite", "--role", "opd", "--opd", "DINKES")).split()[0]


async def test_sigkill_mid_handler_then_restart_processes_the_update_once(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    env = telegram_env(fake_telegram, data_dir, MONEV_LOG_LEVEL="DEBUG")
    user = fake_telegram.user(7001)
    payload = b"%PDF-1.7\n" + os.urandom(2_000_000) + b"\n%%EOF\n"

    code = await invite_code(env, tmp_path)
    first = BotProcess(env, tmp_path)
    await first.start()
    try:
        user.send_text(f"/daftar {code}")
        await fake_telegram.wait_for_messages(7001, 1, timeout=20)
        fake_telegram.throttle_downloads(200_000)  # ten seconds of download: the kill lands mid-handler
        user.send_document(payload, "evaluasi.pdf")
        await fake_telegram.wait_for(lambda: fake_telegram.calls_of("getFile"), timeout=20)
        await asyncio.sleep(0.5)
    finally:
        await first.kill()
    db = Database(sqlite_url(data_dir))
    try:
        _, row = await journal_rows(db)
        assert row.status == "pending"  # journaled, not handled
        assert len(fake_telegram.sent_messages(7001)) == 1  # only the registration greeting
        fake_telegram.throttle_downloads(None)

        second = BotProcess(env, tmp_path)
        await second.start()
        try:
            _, receipt = await fake_telegram.wait_for_messages(7001, 2, timeout=20)
            await wait_for_row(db, "replied")
        finally:
            assert await second.terminate() == 0
        assert hashlib.sha256(payload).hexdigest()[:8] in receipt["text"]
        async with db.read() as session:
            assert await session.scalar(select(func.count()).select_from(UnfiledUpload)) == 1
        _, row = await journal_rows(db)
        assert (row.status, row.attempts) == ("replied", 0)
        assert len(fake_telegram.sent_messages(7001)) == 2
        assert not list((data_dir / "files" / "tmp").glob("*"))  # the half-written temp file was removed
        logs = (first.stderr + second.stderr).decode()
        for run in (first, second):  # a real, verbose log was captured from each run
            assert f"Telegram bot @{fake_telegram.bot_username} ready" in run.stderr.decode()
            assert "Calling Bot API endpoint `getUpdates`" in run.stderr.decode()
        assert fake_telegram.token not in logs
        assert fake_telegram.token.split(":")[1] not in logs
    finally:
        await db.dispose()


async def test_sigkill_between_commit_and_reply_sends_the_reply_after_restart(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    env = telegram_env(fake_telegram, data_dir)
    user = fake_telegram.user(7002)
    # The reply cannot get through (connections dropped), so the row sits committed but unreplied.
    fake_telegram.inject_error("sendMessage", network=True, chat_id=7002, times=1000)
    db = Database(sqlite_url(data_dir))
    first = BotProcess(env, tmp_path)
    await first.start()
    try:
        user.send_text("/help")
        row = await wait_for_row(db, "done", timeout=20)
        assert row.replies and "Perintah yang bisa Anda pakai" in row.replies
    finally:
        await first.kill()
    try:
        fake_telegram.clear_faults()
        assert fake_telegram.sent_messages(7002) == []
        second = BotProcess(env, tmp_path)
        await second.start()
        try:
            (reply,) = await fake_telegram.wait_for_messages(7002, 1, timeout=20)
            await wait_for_row(db, "replied")
        finally:
            assert await second.terminate() == 0
        assert "Perintah yang bisa Anda pakai" in reply["text"]
        await asyncio.sleep(0.3)
        assert len(fake_telegram.sent_messages(7002)) == 1
        (row,) = await journal_rows(db)
        assert row.attempts == 0  # the handler ran once; only the reply was sent again
    finally:
        await db.dispose()


async def test_a_wrong_token_exits_2_with_one_line(fake_telegram: FakeBotAPI, tmp_path: Path) -> None:
    env = telegram_env(fake_telegram, tmp_path / "data", MONEV_TELEGRAM_TOKEN="999:WRONG-token_xxxxxxxxxxxxxxxxxxxxxx")
    process = BotProcess(env, tmp_path)
    await process.start()
    assert process.process is not None
    code = await asyncio.wait_for(process.process.wait(), timeout=30)
    await process.terminate()
    assert code == 2
    errors = [line for line in process.stderr.decode().splitlines() if line.startswith("monev:")]
    assert errors == ["monev: MONEV_TELEGRAM_TOKEN: Telegram rejected the bot token"]
    assert "WRONG-token" not in process.stderr.decode()


async def test_sigkill_mid_upload_then_restart_files_the_version_once(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    env = telegram_env(fake_telegram, data_dir)
    world = await open_broadcast(bot_settings(fake_telegram, tmp_path), {"DINKES": 1}, now=datetime.now().astimezone())
    (chat,) = world.liaisons
    liaison = fake_telegram.user(chat)
    fake_telegram.user(world.uploader_chat)
    payload = b"%PDF-1.7\n" + os.urandom(2_000_000) + b"\n%%EOF\n"
    first = BotProcess(env, tmp_path)
    await first.start()
    try:
        await fake_telegram.wait_for_messages(chat, 2, timeout=20)  # the invitation and the data request
        fake_telegram.throttle_downloads(200_000)
        liaison.send_document(payload, "perwal.pdf", caption="I.01")
        await fake_telegram.wait_for(lambda: fake_telegram.calls_of("getFile"), timeout=20)
        await asyncio.sleep(0.5)
    finally:
        await first.kill()
    fake_telegram.throttle_downloads(None)
    db = Database(sqlite_url(data_dir))
    try:
        async with db.read() as session:
            assert await session.scalar(select(func.count()).select_from(SubmissionVersion)) == 0
        second = BotProcess(env, tmp_path)
        await second.start()
        try:
            messages = await fake_telegram.wait_for_messages(chat, 3, timeout=20)
        finally:
            assert await second.terminate() == 0
        assert "Versi: 1" in messages[2]["text"] and hashlib.sha256(payload).hexdigest()[:8] in messages[2]["text"]
        async with db.read() as session:
            (version,) = (await session.scalars(select(SubmissionVersion))).all()
            (stored,) = (await session.scalars(select(SubmissionFile.sha256))).all()
        assert version.number == 1 and stored == hashlib.sha256(payload).hexdigest()
        assert not list((data_dir / "files" / "tmp").glob("*"))
    finally:
        await db.dispose()
