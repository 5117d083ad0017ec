"""A backup taken while `monev run` (a real process) files uploads, restored on an empty data dir, checks clean."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import tarfile
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage.database import Database
from storage.filestore import FileStore
from storage.models import SubmissionFile
from tests.e2e.broadcast_world import open_broadcast
from tests.e2e.harness import BotProcess, bot_settings, run_cli, sqlite_url, telegram_env
from tests.fake_telegram.server import FakeBotAPI

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

UPLOADS = 4


def _versions(database: Path) -> set[tuple[int, int, str]]:
    """(version id, number, file sha256) of every filed version in a SQLite file."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        rows = connection.execute(
            "SELECT v.id, v.number, f.sha256 FROM submission_version v JOIN submission_file f ON f.version_id = v.id"
        ).fetchall()
    finally:
        connection.close()
    return {(int(a), int(b), str(c)) for a, b, c in rows}


# Five real processes (the bot, backups, two restores) in one test: on a loaded machine that is more than the
# suite's two minutes per test.
@pytest.mark.timeout(360)
async def test_a_backup_during_uploads_restores_on_an_empty_data_dir_and_passes_check(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    env = telegram_env(fake_telegram, data_dir)
    world = await open_broadcast(bot_settings(fake_telegram, tmp_path), {"DINKES": 1}, now=datetime.now().astimezone())
    (chat,) = world.liaisons
    liaison = fake_telegram.user(chat)
    fake_telegram.user(world.uploader_chat)
    db = Database(sqlite_url(data_dir))
    bot = BotProcess(env, tmp_path)
    await bot.start()
    archives: list[Path] = []
    uploading = asyncio.Event()
    done = asyncio.Event()

    async def back_up_while_uploads_run() -> None:
        await uploading.wait()
        while not done.is_set():
            archive = tmp_path / f"backup-{len(archives)}.tar"
            code, _, err = await run_cli(env, tmp_path, "backup", "--out", str(archive))
            assert code == 0, err
            archives.append(archive)

    backups = asyncio.create_task(back_up_while_uploads_run())
    try:
        await fake_telegram.wait_for_messages(chat, 2, timeout=90)  # the invitation and the data request
        fake_telegram.throttle_downloads(600_000)  # each download takes a moment: backups land mid-upload
        for number in range(1, UPLOADS + 1):
            before = len(fake_telegram.sent_messages(chat))
            payload = b"%PDF-1.7\n" + os.urandom(300_000) + b"\n%%EOF\n"
            liaison.send_document(payload, f"perwal-{number}.pdf", caption="I.01")
            uploading.set()
            await fake_telegram.wait_for_messages(chat, before + 1, timeout=60)
        done.set()
        await asyncio.wait_for(backups, timeout=120)
        assert archives, "no backup ran while the uploads did"
        last = tmp_path / "backup-last.tar"  # begun after the last upload's reply: its version is committed
        code, _, err = await run_cli(env, tmp_path, "backup", "--out", str(last))
        assert code == 0, err
        archives.append(last)
    finally:
        done.set()
        uploading.set()
        fake_telegram.throttle_downloads(None)
        assert await bot.terminate() == 0
        backups.cancel()
    try:
        async with db.read() as session:
            filed = await session.scalar(select(func.count()).select_from(SubmissionFile))
        assert filed == UPLOADS
    finally:
        await db.dispose()
    final = _versions(data_dir / "monev.sqlite3")

    for index, archive in enumerate((archives[0], archives[-1])):
        with tarfile.open(archive) as tar:
            tar.extract("database/monev.sqlite3", tmp_path / f"snapshot-{index}", filter="data")
        snapshot = _versions(tmp_path / f"snapshot-{index}" / "database" / "monev.sqlite3")
        assert snapshot <= final  # a consistent moment of the running bot: no version it did not keep
        empty = tmp_path / f"restored-{index}"
        restored_env = {**env, "MONEV_DATA_DIR": str(empty)}
        code, out, err = await run_cli(restored_env, tmp_path, "restore", str(archive))
        assert code == 0, out + err
        assert "check: ok" in out, out  # restore ends with `monev check`: every file hashed against its row
        restored = _versions(empty / "monev.sqlite3")
        assert restored == snapshot  # every version of the snapshot, nothing else
        assert all(FileStore(empty / "files").verify(sha256) is None for _, _, sha256 in restored)
    assert _versions(tmp_path / "restored-1" / "monev.sqlite3") == final  # the last backup came after the uploads
