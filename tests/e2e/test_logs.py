"""The logs of a real `monev run` in JSON: one object per line, a request id per update, no token, phones masked,
no file contents."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from storage.database import Database
from tests.e2e.harness import BotProcess, journal_rows, sqlite_url, telegram_env
from tests.e2e.test_crash import invite_code
from tests.fake_telegram.server import FakeBotAPI

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

MARKER = b"ISI-BERKAS-RAHASIA-8c1f"


async def test_json_logs_of_a_real_run_carry_request_ids_and_hide_tokens_phones_and_contents(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    env = telegram_env(fake_telegram, data_dir, MONEV_LOG_FORMAT="json", MONEV_LOG_LEVEL="DEBUG")
    user = fake_telegram.user(7301)
    code = await invite_code(env, tmp_path)
    bot = BotProcess(env, tmp_path)
    await bot.start()
    try:
        user.send_text(f"/daftar {code}")
        await fake_telegram.wait_for_messages(7301, 1, timeout=30)
        user.send_text("nomor saya +62 812-3456-7890")
        await fake_telegram.wait_for_messages(7301, 2, timeout=30)
        user.send_document(b"%PDF-1.7\n" + MARKER * 50 + os.urandom(1000) + b"\n%%EOF\n", "surat.pdf")
        await fake_telegram.wait_for_messages(7301, 3, timeout=30)
    finally:
        assert await bot.terminate() == 0
    db = Database(sqlite_url(data_dir))
    try:
        rows = await journal_rows(db)
    finally:
        await db.dispose()
    log = bot.stderr.decode()
    records = [json.loads(line) for line in log.splitlines()]  # every line is one JSON object
    assert records and all(set(r) >= {"time", "level", "logger", "message", "request_id"} for r in records)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}", r["time"]) for r in records)
    for row in rows:  # each update's handling, its reply included, is logged under its own request id
        mine = [r["message"] for r in records if r["request_id"] == f"j{row.id}"]
        assert any("sendMessage" in message for message in mine), (row.id, mine)
    assert {r["request_id"] for r in records} - {None} == {f"j{row.id}" for row in rows}
    assert fake_telegram.token not in log and fake_telegram.token.split(":")[1] not in log
    assert "6281234567890" not in log and "812-3456-7890" not in log
    assert "62812****7890" in log  # the update as the Bot API returned it, masked
    assert MARKER.decode() not in log and "ISI-BERKAS" not in log
