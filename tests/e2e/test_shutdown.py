"""SIGTERM mid-burst: `monev run` as a real process lets its sends in flight finish and records them; after a
restart every reply and every outbox message has been delivered exactly once."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import pytest

from storage.database import Database
from tests.e2e.broadcast_world import open_broadcast
from tests.e2e.harness import BotProcess, bot_settings, journal_rows, outbox_idle, sqlite_url, telegram_env
from tests.fake_telegram.server import FakeBotAPI

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

USERS = (8401, 8402, 8403)
PER_USER = 3
# The fake stores each message at once but answers it this much later: the SIGTERM lands while the bot
# waits for the answer of a message that has already gone out (the window that used to be sent twice).
ANSWER_DELAY = 1.0


async def all_replied(db: Database, count: int, timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while True:
            rows = await journal_rows(db)
            if len(rows) == count and all(r.replied_at is not None for r in rows):
                return
            await asyncio.sleep(0.05)


async def test_sigterm_mid_burst_sends_no_reply_twice(fake_telegram: FakeBotAPI, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = telegram_env(fake_telegram, data_dir)
    users = [fake_telegram.user(user_id) for user_id in USERS]
    for _ in range(PER_USER):
        for user in users:
            user.send_text("/help")
    fake_telegram.delay_answers("sendMessage", ANSWER_DELAY)
    first = BotProcess(env, tmp_path)
    await first.start()
    try:
        await fake_telegram.wait_for(lambda: fake_telegram.sent_messages(), timeout=30)
    finally:
        assert await first.terminate() == 0  # SIGTERM while the first replies wait for their answers
    sent_before_restart = len(fake_telegram.sent_messages())
    assert 0 < sent_before_restart < len(USERS) * PER_USER  # stopped mid-burst
    db = Database(sqlite_url(data_dir))
    try:
        replied = [r for r in await journal_rows(db) if r.replied_at is not None]
        assert len(replied) == sent_before_restart  # every reply that went out was recorded before the exit
        fake_telegram.delay_answers("sendMessage", None)
        second = BotProcess(env, tmp_path)
        await second.start()
        try:
            await all_replied(db, len(USERS) * PER_USER)
        finally:
            assert await second.terminate() == 0
    finally:
        await db.dispose()
    assert {user.id: len(fake_telegram.sent_messages(user.id)) for user in users} == dict.fromkeys(USERS, PER_USER)
    assert b"shutdown: work still running" not in first.stderr  # nothing had to be cut off


async def test_sigterm_mid_broadcast_sends_no_message_twice(fake_telegram: FakeBotAPI, tmp_path: Path) -> None:
    env = telegram_env(fake_telegram, tmp_path / "data")
    settings = bot_settings(fake_telegram, tmp_path)
    world = await open_broadcast(settings, {"DINKES": 3, "DISHUB": 3}, now=datetime.now().astimezone())
    for user_id in [*world.liaisons, world.uploader_chat]:
        fake_telegram.user(user_id)
    fake_telegram.delay_answers("sendDocument", ANSWER_DELAY)
    fake_telegram.delay_answers("sendMessage", ANSWER_DELAY)
    first = BotProcess(env, tmp_path)
    await first.start()
    try:
        await fake_telegram.wait_for(lambda: fake_telegram.sent_messages(), timeout=30)
    finally:
        assert await first.terminate() == 0
    assert len(fake_telegram.sent_messages()) < 2 * len(world.liaisons)  # stopped mid-broadcast
    fake_telegram.delay_answers("sendDocument", None)
    fake_telegram.delay_answers("sendMessage", None)
    db = Database(settings.database_url)
    second = BotProcess(env, tmp_path)
    await second.start()
    try:
        await fake_telegram.wait_for(
            lambda: [t for t in fake_telegram.texts(world.uploader_chat) if "Laporan pengiriman" in t], timeout=40
        )
        await outbox_idle(db)
    finally:
        assert await second.terminate() == 0
        await db.dispose()
    for chat in world.liaisons:
        assert len(fake_telegram.sent_messages(chat)) == 2, chat  # the letter and the data request, once each
    assert fake_telegram.duplicate_texts() == {}
