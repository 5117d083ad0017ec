"""The console as a channel under the Runtime: lines are journaled, processed in order, answered, and a line
journaled before a stop is answered after the next start; alone (no Telegram token) and beside Telegram."""

from __future__ import annotations

import io
import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import pytest

from bot.app import MonevApp, build_channels
from bot.channels.console import ConsoleChannel
from bot.domain.enums import Role
from bot.messaging.channel import Channel
from tests.conftest import make_settings
from tests.e2e.harness import bot_settings, journal_rows, running_bot, say
from tests.fake_telegram.server import FakeBotAPI

pytestmark = pytest.mark.e2e


def admin_console(out: io.StringIO, built: list[ConsoleChannel]) -> Callable[[MonevApp], Awaitable[Sequence[Channel]]]:
    """The channels of a runtime: only a console acting as an admin, printing to `out`."""

    async def build(app: MonevApp) -> Sequence[Channel]:
        built.append(await app.console(Role.ADMIN, None, out))
        return built[-1:]

    return build


async def test_a_console_only_runtime_answers_journaled_lines_in_order_across_a_restart(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path / "data", MONEV_HTTP_PORT="0", MONEV_LEASE_RENEW_SECONDS="0.2", MONEV_LEASE_TIMEOUT_SECONDS="1.5"
    )
    assert settings.telegram_token is None
    first_out, second_out = io.StringIO(), io.StringIO()
    consoles: list[ConsoleChannel] = []
    async with running_bot(settings, channels=admin_console(first_out, consoles)) as bot:
        (console,) = bot.runtime.channels
        assert console is consoles[0] and list(bot.runtime.inbound) == ["console"]
        journal = bot.runtime.inbound["console"]
        assert await console.submit_line("/start", journal)
        assert await console.submit_line("/help", journal)
        assert not await console.submit_line(":aneh", journal)  # a console mistake is answered at once, not journaled
        await bot.wait_idle()
        printed = first_out.getvalue()
        assert "Perintah konsol:" in printed
        assert printed.index("Selamat datang") < printed.index("Perintah yang bisa Anda pakai")
        rows = await journal_rows(bot.app.services.db)
        assert [(r.channel, r.chat_key, r.status) for r in rows] == [(console.name, console.chat_id, "replied")] * 2
        await bot.runtime.stop()  # processing stops; the line below is journaled with no journal loop running
        assert await console.submit_line("/help", journal)
        assert [r.status for r in await journal_rows(bot.app.services.db)] == ["replied", "replied", "pending"]

    async with running_bot(settings, channels=admin_console(second_out, consoles)) as bot:
        await bot.wait_idle()
        rows = await journal_rows(bot.app.services.db)
        assert [r.status for r in rows] == ["replied"] * 3
    # The new process answered the line left over, and only that one: the replied rows were not run again.
    assert second_out.getvalue().count("Perintah yang bisa Anda pakai") == 1
    assert "Selamat datang" not in second_out.getvalue()


async def test_console_rows_that_do_not_parse_or_belong_to_another_terminal_are_finished_unanswered(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(
        tmp_path / "data", MONEV_HTTP_PORT="0", MONEV_LEASE_RENEW_SECONDS="0.2", MONEV_LEASE_TIMEOUT_SECONDS="1.5"
    )
    out = io.StringIO()
    consoles: list[ConsoleChannel] = []
    async with running_bot(settings, channels=admin_console(out, consoles)) as bot:
        (console,) = consoles
        journal = bot.runtime.inbound["console"]
        await journal.record([{"user": console.unix_user, "key": "garbled"}])  # neither text, button nor file
        await journal.record([{"user": f"{console.unix_user}-other", "key": "theirs", "text": "/help"}])
        assert await console.submit_line("/help", journal)
        await bot.wait_idle()
        rows = {r.update_key: r for r in await journal_rows(bot.app.services.db)}
    assert (rows["garbled"].status, rows["garbled"].attempts) == ("failed", 0)
    assert rows["theirs"].status == "replied" and rows["theirs"].chat_key == f"console:{console.unix_user}-other"
    # Only this terminal's own line was answered, once.
    assert out.getvalue().count("Perintah yang bisa Anda pakai") == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert [m for m in warnings if "cannot be parsed" in m] == [
        f"journal row {rows['garbled'].id} (console update garbled) cannot be parsed (KeyError: 'file'); marked failed"
    ]


async def test_one_runtime_runs_telegram_and_the_console_side_by_side(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    out = io.StringIO()

    async def both(app: MonevApp) -> Sequence[Channel]:
        return [*build_channels(app), await app.console(Role.ADMIN, None, out)]

    user = fake_telegram.user(4401)
    async with running_bot(bot_settings(fake_telegram, tmp_path), channels=both) as bot:
        assert [c.name for c in bot.runtime.channels] == ["telegram", "console"]
        _, console = bot.runtime.channels
        assert isinstance(console, ConsoleChannel)
        assert await console.submit_line("/help", bot.runtime.inbound["console"])
        (help_text,) = await say(fake_telegram, user, "/help")
        await bot.wait_idle()
        rows = await journal_rows(bot.app.services.db)
    assert "Perintah yang bisa Anda pakai" in help_text
    assert out.getvalue().count("Perintah yang bisa Anda pakai") == 1
    assert sorted((r.channel, r.status) for r in rows) == [("console", "replied"), ("telegram", "replied")]
