"""One sender at a time: a second instance waits as standby and takes over when the lease expires."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.app import build_app, build_channels
from bot.runtime import Runtime
from tests.e2e.harness import bot_settings, running_bot
from tests.fake_telegram.server import FakeBotAPI

pytestmark = pytest.mark.e2e


async def test_standby_takes_over_when_the_holder_stops_renewing(
    fake_telegram: FakeBotAPI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = bot_settings(fake_telegram, tmp_path)
    user = fake_telegram.user(9001)
    async with running_bot(settings) as first:
        standby_app = build_app(settings)
        await standby_app.prepare()
        standby = Runtime(standby_app, build_channels(standby_app))
        await standby.start()
        standby_task = asyncio.create_task(standby.run())
        try:
            await asyncio.sleep(1.0)
            assert first.runtime.is_holder and not standby.is_holder
            user.send_text("/help")
            await fake_telegram.wait_for_messages(9001, 1)
            await first.wait_idle()  # a reply in flight at the crash may go twice; that window is not tested here
            # The standby never polled: a second getUpdates would have cut the holder's off with a 409.
            assert [r.getMessage() for r in caplog.records if "409 Conflict" in r.getMessage()] == []
            # The holder dies without releasing the lease: its loop and its tasks stop where they are.
            first.task.cancel()
            await first.runtime._step_down()
            async with asyncio.timeout(10):
                while not standby.is_holder:
                    await asyncio.sleep(0.05)
            user.send_text("/start")
            replies = await fake_telegram.wait_for_messages(9001, 2)
            assert "Selamat datang" in replies[1]["text"]
            assert len(fake_telegram.sent_messages(9001)) == 2
        finally:
            standby_task.cancel()
            await asyncio.gather(standby_task, return_exceptions=True)
            await standby.stop()
            await standby_app.close()
