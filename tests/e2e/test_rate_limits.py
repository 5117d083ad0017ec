"""The project rate limiter against the fake server's enforcement of Telegram's limits."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from pathlib import Path

import pytest
from telegram import Bot

from bot.channels.telegram.channel import TelegramChannel
from bot.channels.telegram.sender import TelegramSender
from bot.conversation.core import Reply
from bot.messaging.ratelimit import Limits as BotLimits
from bot.messaging.ratelimit import NoLimiter, RateLimiter
from tests.e2e.broadcast_world import open_broadcast
from tests.e2e.harness import LogExpectations, bot_settings, running_bot
from tests.fake_telegram.limits import STRICT_PER_CHAT
from tests.fake_telegram.server import FakeBotAPI
from tests.fake_telegram.server import Limits as FakeLimits

pytestmark = pytest.mark.e2e


async def send_to_many(fake: FakeBotAPI, limiter: RateLimiter, tmp_path: Path, chats: int, each: int) -> None:
    for user_id in range(1, chats + 1):
        fake.user(10_000 + user_id)
    async with Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url) as bot:
        sender = TelegramSender(bot, limiter)

        async def one_chat(chat_id: int) -> None:
            for n in range(each):
                await sender.send_reply(chat_id, Reply(f"pesan {n}"))

        await asyncio.gather(*(one_chat(10_000 + u) for u in range(1, chats + 1)))


async def test_with_the_limiter_no_429_reaches_the_bot(fake_telegram: FakeBotAPI, tmp_path: Path) -> None:
    await send_to_many(fake_telegram, RateLimiter(), tmp_path, chats=45, each=2)
    assert fake_telegram.rejected_429 == []
    assert len(fake_telegram.sent_messages()) == 90
    for chat in range(10_001, 10_046):
        assert fake_telegram.texts(chat) == ["pesan 0", "pesan 1"]


async def test_without_the_limiter_429s_come_back_and_are_honoured(
    fake_telegram: FakeBotAPI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # 10 messages/s overall: 45 unlimited sends exceed it however slowly a loaded machine runs them.
    fake_telegram.set_limits(FakeLimits(global_per_sec=10))
    with caplog.at_level(logging.WARNING):
        await send_to_many(fake_telegram, NoLimiter(), tmp_path, chats=45, each=1)
    assert fake_telegram.rejected_429, "the fake server must enforce the global limit"
    assert len(fake_telegram.sent_messages()) == 45  # every message still arrived, once
    assert fake_telegram.duplicate_texts() == {}
    assert "Telegram asked to slow down" in caplog.text


@pytest.mark.parametrize(("each", "refused"), [(2, 0), (3, 1)])
async def test_the_strict_fake_allows_two_at_once_in_a_chat_where_our_limiter_allows_three(
    fake_telegram: FakeBotAPI, tmp_path: Path, each: int, refused: int
) -> None:
    """The broadcast tests' fake is stricter than our limiter, so their "no 429" does not check it against itself."""
    fake_telegram.set_limits(STRICT_PER_CHAT)
    await send_to_many(fake_telegram, RateLimiter(), tmp_path, chats=1, each=each)
    assert len(fake_telegram.rejected_429) == refused
    assert fake_telegram.texts(10_001) == [f"pesan {n}" for n in range(each)]  # the refused one waited, then went


async def test_a_409_conflict_is_logged_once_and_polling_goes_on(
    fake_telegram: FakeBotAPI,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    expect_log: LogExpectations,
) -> None:
    monkeypatch.setattr(TelegramChannel, "CONFLICT_RETRY_SECONDS", 0.1)
    expect_log("bot.channels.telegram.channel", r"^409 Conflict: another process is polling this bot token")
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


async def test_a_reply_jumps_ahead_of_a_queued_broadcast(fake_telegram: FakeBotAPI, tmp_path: Path) -> None:
    """A broadcast waits for the global bucket (2 messages/s here); a /start sent meanwhile is answered next."""
    settings = bot_settings(fake_telegram, tmp_path)
    world = await open_broadcast(settings, {"DINKES": 6}, now=datetime.now(settings.timezone))
    for user_id in [*world.liaisons, world.uploader_chat, *world.leader_chats]:
        fake_telegram.user(user_id)
    stranger = fake_telegram.user(8801)
    order: list[int] = []
    fake_telegram.add_listener(lambda kind, message: kind == "sent" and order.append(message["chat"]["id"]))
    slow = RateLimiter(BotLimits(global_rate=2.0, global_burst=1))
    async with running_bot(settings, limiter=slow):
        await fake_telegram.wait_for(lambda: any(chat in world.liaisons for chat in order), timeout=20)
        stranger.send_text("/start")
        await fake_telegram.wait_for_messages(stranger.id, 1, timeout=20)
        broadcast_before_reply = [chat for chat in order[: order.index(stranger.id)] if chat in world.liaisons]
        await fake_telegram.wait_for(lambda: len(order) >= 2 * len(world.liaisons) + 1, timeout=30)
    # Six liaisons' first messages were waiting for the bucket when /start came; the reply went out ahead of
    # them (one may already hold its token). On a single queue it waited for all six.
    assert len(broadcast_before_reply) <= 3, broadcast_before_reply
    assert fake_telegram.rejected_429 == []
