"""A broken Bot API cannot trip the bot: unparsable answers, empty answers at once, updates that do not parse;
and messages queued while no channel runs wait for it."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot.app import build_app, build_channels
from bot.channels.telegram.channel import EMPTY_POLL_PAUSE
from bot.conversation.envelope import MENU_KIND
from bot.runtime import Runtime
from storage.database import Database
from storage.models import ChannelIdentity, OutboxMessage
from tests.conftest import make_settings
from tests.e2e.broadcast_world import open_broadcast
from tests.e2e.harness import (
    LogExpectations,
    MovableClock,
    bot_settings,
    free_port,
    journal_rows,
    running_bot,
    say,
)
from tests.fake_telegram.server import FakeBotAPI

pytestmark = pytest.mark.e2e

GARBLED = b"<html><body>502 Bad Gateway</body></html>"
EMPTY = b'{"ok": true, "result": []}'


async def test_a_reply_whose_answer_cannot_be_read_is_sent_three_times_at_most(
    fake_telegram: FakeBotAPI, tmp_path: Path, caplog: pytest.LogCaptureFixture, expect_log: LogExpectations
) -> None:
    expect_log("bot.messaging.inbound", r"^reply for journal row \d+: giving up after 3 attempts")
    expect_log("telegram.request.BaseRequest", r"^Can not load invalid JSON data")  # PTB's own record of the bad answer
    user = fake_telegram.user(8301)
    async with running_bot(bot_settings(fake_telegram, tmp_path)) as bot:
        pump, queues = bot.runtime.inbound["telegram"].pump, bot.runtime.inbound["telegram"].queues
        fake_telegram.inject_response("sendMessage", GARBLED, chat_id=8301, times=100, deliver=True)
        user.send_text("/help")
        await fake_telegram.wait_for_messages(8301, 1)
        await queues.wait_idle()
        for _ in range(4):  # the minute sweep, four times over
            await pump.resume_all()
            await queues.wait_idle()
        (row,) = await journal_rows(bot.app.services.db)
        assert (row.status, row.attempts, row.replied_at is not None) == ("failed", 3, True)
        assert len(fake_telegram.sent_messages(8301)) == 3
        # The bot itself is fine: the next message is answered normally.
        fake_telegram.clear_faults()
        (help_text,) = await say(fake_telegram, user, "/help")
        assert "Perintah yang bisa Anda pakai" in help_text
    giving_up = [r for r in caplog.records if r.name == "bot.messaging.inbound" and r.levelno >= logging.ERROR]
    assert [r.getMessage().split(" (")[0] for r in giving_up] == [
        f"reply for journal row {row.id}: giving up after 3 attempts"
    ]


async def test_an_outbox_message_whose_answer_cannot_be_read_fails_after_three_attempts(
    fake_telegram: FakeBotAPI, tmp_path: Path, expect_log: LogExpectations
) -> None:
    expect_log("bot.messaging.outbox_dispatch", r"giving up after 3 attempts")
    expect_log("telegram.request.BaseRequest", r"^Can not load invalid JSON data")
    settings = bot_settings(fake_telegram, tmp_path)
    world = await open_broadcast(settings, {"DINKES": 1}, now=datetime.now().astimezone())
    (chat,) = world.liaisons
    for user_id in (chat, world.uploader_chat):
        fake_telegram.user(user_id)
    fake_telegram.inject_response("sendDocument", GARBLED, chat_id=chat, times=100, deliver=True)
    async with running_bot(settings) as bot:
        db = bot.app.services.db
        for attempt in (1, 2, 3):
            async with asyncio.timeout(10):
                while (letter := await first_message(db)).attempts < attempt:
                    await asyncio.sleep(0.05)
            async with db.write() as session:  # the retry is due now rather than in 5 or 10 s
                await session.execute(
                    update(OutboxMessage).where(OutboxMessage.id == letter.id).values(not_before=bot.app.now())
                )
        await fake_telegram.wait_for(lambda: len(fake_telegram.sent_messages(chat)) == 4)
        letter = await first_message(db)
        assert (letter.status, letter.attempts) == ("failed", 3)
        # The letter went out three times (each answer unreadable), then the data request once.
        assert [bool(m.get("document")) for m in fake_telegram.sent_messages(chat)] == [True, True, True, False]


async def first_message(db: Database) -> OutboxMessage:
    async with db.read() as session:
        # The first message of the broadcast: the registrations' chat menus (kind `menu`) came before it.
        first = select(OutboxMessage).where(OutboxMessage.kind != MENU_KIND).order_by(OutboxMessage.id).limit(1)
        return (await session.scalars(first)).one()


async def test_get_updates_answering_nothing_at_once_is_not_a_busy_loop(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    user = fake_telegram.user(8302)
    fake_telegram.inject_response("getUpdates", EMPTY, times=1_000_000)
    async with running_bot(bot_settings(fake_telegram, tmp_path)):
        await fake_telegram.wait_for(lambda: fake_telegram.calls_of("getUpdates"))
        window = 3.0
        before = len(fake_telegram.calls_of("getUpdates"))
        await asyncio.sleep(window)
        polls = len(fake_telegram.calls_of("getUpdates")) - before
        # One empty answer per pause at most (plus the call under way); a busy loop makes hundreds.
        assert polls <= window / EMPTY_POLL_PAUSE + 1
        fake_telegram.clear_faults()
        (help_text,) = await say(fake_telegram, user, "/help", replies=1)
        assert "Perintah yang bisa Anda pakai" in help_text


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_an_update_that_does_not_parse_is_failed_and_the_bot_goes_on(
    fake_telegram: FakeBotAPI, tmp_path: Path, caplog: pytest.LogCaptureFixture, mode: str
) -> None:
    port = free_port()
    webhook = {"MONEV_WEBHOOK_URL": f"http://127.0.0.1:{port}", "MONEV_WEBHOOK_SECRET": "rahasia-webhook_1"}
    settings = bot_settings(
        fake_telegram, tmp_path, MONEV_HTTP_PORT=str(port), **(webhook if mode == "webhook" else {})
    )
    user = fake_telegram.user(8303)
    user.send_text("/help")
    malformed = fake_telegram.enqueue(
        {
            "message": {
                "message_id": 77,
                "date": "kemarin",  # Telegram sends a Unix time; PTB cannot parse this
                "chat": {"id": 8303, "type": "private", "first_name": "Budi"},
                "from": {"id": 8303, "is_bot": False, "first_name": "Budi"},
                "text": "/start",
            }
        }
    )
    user.send_text("/help")
    async with running_bot(settings) as bot:
        await fake_telegram.wait_for_messages(8303, 2)
        await bot.wait_idle()
        rows = await journal_rows(bot.app.services.db)
        assert [(r.update_key, r.status) for r in rows] == [
            ("1", "replied"),
            (str(malformed["update_id"]), "failed"),
            ("3", "replied"),
        ]
        assert rows[1].last_error is not None and rows[1].last_error.startswith("unparsable")
        (help_text,) = await say(fake_telegram, user, "/help")  # still running
        assert "Perintah yang bisa Anda pakai" in help_text and not bot.task.done()
    assert len(fake_telegram.sent_messages(8303)) == 3  # nothing was sent for the malformed update
    about_it = [
        r for r in caplog.records if "cannot be parsed" in r.getMessage() or "parsing updates" in r.getMessage()
    ]
    assert [(r.levelno, r.exc_info) for r in about_it] == [(logging.WARNING, None)]


async def test_notices_queued_while_only_the_console_runs_wait_for_telegram(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    with_telegram = bot_settings(fake_telegram, tmp_path)
    console_only = make_settings(
        tmp_path / "data", MONEV_HTTP_PORT="0", MONEV_LEASE_RENEW_SECONDS="0.2", MONEV_LEASE_TIMEOUT_SECONDS="1.5"
    )
    world = await open_broadcast(with_telegram, {"DINKES": 2}, now=datetime.now().astimezone())
    for user_id in [*world.liaisons, world.uploader_chat]:
        fake_telegram.user(user_id)

    app = build_app(console_only)
    await app.prepare()
    runtime = Runtime(app, build_channels(app))
    await runtime.start()
    lease_loop = asyncio.create_task(runtime.run())
    try:
        async with asyncio.timeout(10):
            while not runtime.is_holder:
                await asyncio.sleep(0.02)
        await runtime.outbox.deliver_due()  # the job, run now: nothing can go out without Telegram
        async with app.services.db.read() as session:
            statuses = set(
                (await session.scalars(select(OutboxMessage.status).where(OutboxMessage.kind != MENU_KIND))).all()
            )
            unreachable = (await session.scalars(select(ChannelIdentity.unreachable_at))).all()
        assert statuses == {"pending"}
        assert set(unreachable) == {None}
    finally:
        lease_loop.cancel()
        await asyncio.gather(lease_loop, return_exceptions=True)
        await runtime.stop()
        await app.close()

    async with running_bot(with_telegram):
        for chat in world.liaisons:
            await fake_telegram.wait_for_messages(chat, 2, timeout=20)  # the letter and the data request
    assert fake_telegram.duplicate_texts() == {}


async def test_an_update_id_telegram_chooses_again_after_a_week_is_answered(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    """After a week without updates Telegram picks the next update_id anew: one that an old row holds is not dropped."""
    settings, clock = bot_settings(fake_telegram, tmp_path), MovableClock()
    user = fake_telegram.user(4242)
    async with running_bot(settings, clock=clock):
        assert "Selamat datang" in (await say(fake_telegram, user, "/start"))[0]  # update 1
    clock.advance(timedelta(days=8))
    fake_telegram.restart_update_ids(1)
    async with running_bot(settings, clock=clock) as bot:
        (answer,) = await say(fake_telegram, user, "/help")  # update 1 again: a new update
        assert "Perintah yang bisa Anda pakai" in answer
        rows = await journal_rows(bot.app.services.db)
    assert sorted(r.update_key for r in rows) == ["1", f"1~{min(r.id for r in rows)}"]
