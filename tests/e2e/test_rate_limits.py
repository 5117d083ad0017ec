"""The project rate limiter against the fake server's enforcement of Telegram's limits."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest
from telegram import Bot

from bot.channels.ratelimit import Limits, NoLimiter, RateLimiter
from bot.channels.telegram.channel import TelegramChannel
from bot.channels.telegram.sender import TelegramSender
from bot.core import Reply
from tests.e2e.harness import bot_settings, running_bot
from tests.fake_telegram.server import FakeBotAPI

pytestmark = pytest.mark.e2e


async def send_to_many(fake: FakeBotAPI, limiter: RateLimiter, tmp_path: Path, chats: int, each: int) -> float:
    for user_id in range(1, chats + 1):
        fake.user(10_000 + user_id)
    async with Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url) as bot:
        sender = TelegramSender(bot, limiter)
        started = time.monotonic()

        async def one_chat(chat_id: int) -> None:
            for n in range(each):
                await sender.send_reply(chat_id, Reply(f"pesan {n}"))

        await asyncio.gather(*(one_chat(10_000 + u) for u in range(1, chats + 1)))
        return time.monotonic() - started


async def test_with_the_limiter_no_429_reaches_the_bot(fake_telegram: FakeBotAPI, tmp_path: Path) -> None:
    elapsed = await send_to_many(fake_telegram, RateLimiter(), tmp_path, chats=45, each=2)
    assert fake_telegram.rejected_429 == []
    assert len(fake_telegram.sent_messages()) == 90
    assert elapsed >= (90 - 20) / 30 * 0.9  # the global bucket lets 20 go at once, then 30 per second
    for chat in range(10_001, 10_046):
        assert fake_telegram.texts(chat) == ["pesan 0", "pesan 1"]


async def test_without_the_limiter_429s_come_back_and_are_honoured(
    fake_telegram: FakeBotAPI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        await send_to_many(fake_telegram, NoLimiter(), tmp_path, chats=45, each=1)
    assert fake_telegram.rejected_429, "the fake server must enforce the global limit"
    assert len(fake_telegram.sent_messages()) == 45  # every message still arrived, once
    assert fake_telegram.duplicate_texts() == {}
    assert "Telegram asked to slow down" in caplog.text


async def test_one_chat_gets_its_burst_then_one_message_per_second() -> None:
    limiter = RateLimiter(Limits(chat_rate=20.0, chat_burst=3))
    started = time.monotonic()
    stamps = []
    for _ in range(6):
        await limiter.acquire(42)
        stamps.append(time.monotonic() - started)
    assert all(s < 0.03 for s in stamps[:3])
    assert stamps[5] >= 3 / 20 * 0.9  # three more tokens at 20/s


async def test_a_busy_chat_does_not_hold_up_another() -> None:
    limiter = RateLimiter(Limits(chat_rate=1.0, chat_burst=1))
    await limiter.acquire(1)
    waiting = asyncio.create_task(limiter.acquire(1))  # must wait ~1 s for chat 1's token
    await asyncio.sleep(0.05)
    started = time.monotonic()
    await limiter.acquire(2)
    assert time.monotonic() - started < 0.05
    waiting.cancel()


async def test_a_409_conflict_is_logged_once_and_polling_goes_on(
    fake_telegram: FakeBotAPI,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(TelegramChannel, "CONFLICT_RETRY_SECONDS", 0.1)
    user = fake_telegram.user(8001)
    fake_telegram.inject_error(
        "getUpdates",
        error_code=409,
        description="Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
        times=2,
    )
    async with running_bot(bot_settings(fake_telegram, tmp_path)):
        user.send_text("/help")
        await fake_telegram.wait_for_messages(8001, 1, timeout=20)
    conflicts = [r for r in caplog.records if r.name.startswith("bot.") and "409 Conflict" in r.getMessage()]
    assert len(conflicts) == 1, [(r.name, r.getMessage()) for r in conflicts]
    for record in caplog.records:
        record.expected = True
