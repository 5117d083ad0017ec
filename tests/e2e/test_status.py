"""`monev status` and `/healthz`: the same figures from one service, read from a running bot's database."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from bot.domain.enums import Role
from jobs import reminder_tick
from tests.e2e.harness import bot_settings, registered, run_cli, running_bot, telegram_env
from tests.fake_telegram.server import FakeBotAPI

pytestmark = pytest.mark.e2e


async def test_status_and_healthz_show_lease_backlogs_reminder_tick_and_last_contact(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    env = telegram_env(fake_telegram, tmp_path / "data")
    async with running_bot(bot_settings(fake_telegram, tmp_path)) as bot:
        await registered(fake_telegram, bot, 8101, Role.KASI)
        await bot.wait_idle()
        await bot.app.scheduler.run_now(reminder_tick.NAME, bot.app.now())
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{bot.runtime.web.port}/healthz") as response:
                assert response.status == 200
                health = await response.json()
        code, out, err = await run_cli(env, tmp_path, "status")
    assert code == 0, err
    assert health["database"] == "ok" and health["lease_holder"] == bot.runtime.instance
    assert health["journal_backlog"] == 0 and health["failed_rows"] == 0
    assert health["outbox_backlog"] == sum(health["outbox"].get(s, 0) for s in ("pending", "sending"))
    assert health["last_reminder_tick"] is not None
    assert set(health["last_contact"]) == {"telegram"}
    assert health["files"] == 0 and health["campaigns"] == {}
    lines = dict(line.split(":", 1) for line in out.splitlines())
    assert bot.runtime.instance in lines["lease"] and "epoch" in lines["lease"]
    assert lines["journal"].strip() == "0 waiting, 0 failed"
    assert lines["reminder tick"].strip() != "never" and lines["last contact"].strip().startswith("telegram 20")
    assert lines["campaigns"].strip() == "none" and lines["files"].strip() == "0 (0.0 MB)"
