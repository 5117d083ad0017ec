"""End to end: Telegram's command menu takes each command's help from its template, worded as before."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.harness import bot_settings, running_bot
from tests.fake_telegram.server import FakeBotAPI
from tests.test_texts_in_templates import MENU

pytestmark = pytest.mark.e2e


async def test_the_menu_shows_each_commands_help(fake_telegram: FakeBotAPI, tmp_path: Path) -> None:
    async with running_bot(bot_settings(fake_telegram, tmp_path)):
        menu = await fake_telegram.wait_for(fake_telegram.get_commands)
        assert [(c["command"], c["description"]) for c in menu] == MENU
