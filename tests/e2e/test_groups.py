"""In a group the bot answers only commands to it and messages that mention it, once per person an hour."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from tests.e2e.harness import MovableClock, RunningBot, bot_settings, journal_rows, running_bot
from tests.fake_telegram.actors import FakeGroup
from tests.fake_telegram.server import FakeBotAPI

pytestmark = pytest.mark.e2e
HINT = "chat pribadi"


async def posted(bot: RunningBot, fake: FakeBotAPI, group: FakeGroup, user_id: int, text: str) -> list[str]:
    """What the bot said in the group after this post, once the post has been handled and any reply sent."""
    before = len(group.messages())
    rows = len(await journal_rows(bot.app.services.db))
    group.send_text(user_id, text)
    async with asyncio.timeout(15):
        while True:
            journal = await journal_rows(bot.app.services.db)
            if len(journal) > rows and all(r.replied_at for r in journal):
                break
            await asyncio.sleep(0.05)
    return [m.get("text") or "" for m in group.messages()[before:]]


async def test_in_a_group_the_bot_answers_only_what_is_addressed_to_it_once_an_hour(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    group = fake_telegram.group(-4001, title="Grup Penghubung OPD")
    clock = MovableClock()
    async with running_bot(bot_settings(fake_telegram, tmp_path), clock) as bot:
        # Talk among members, and commands to another bot, get no answer at all.
        assert await posted(bot, fake_telegram, group, 11, "Selamat pagi Bapak/Ibu semua") == []
        assert await posted(bot, fake_telegram, group, 11, "/start@bot_lain") == []
        assert await posted(bot, fake_telegram, group, 11, "tanya ke @orang_lain saja") == []

        # A command to this bot gets the hint to write privately; the next ones from the same person that hour do not.
        (hint,) = await posted(bot, fake_telegram, group, 11, "/status")
        assert HINT in hint
        assert await posted(bot, fake_telegram, group, 11, "/status@monev_test_bot DINKES") == []
        assert await posted(bot, fake_telegram, group, 11, "@monev_test_bot tolong dibantu") == []

        # Another person mentioning the bot gets the hint once too.
        (mentioned,) = await posted(bot, fake_telegram, group, 12, "Halo @Monev_Test_Bot, bagaimana cara kirim?")
        assert HINT in mentioned
        assert await posted(bot, fake_telegram, group, 12, "/help") == []

        # An hour later the first person is answered again.
        clock.advance(timedelta(minutes=61))
        (again,) = await posted(bot, fake_telegram, group, 11, "/help")
        assert HINT in again
