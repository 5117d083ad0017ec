"""End to end: Telegram's command menu, the default one and each registered person's own.

The default menu takes each command's help from its template, worded as before. A registered person's chat gets
the commands of their roles (`setMyCommands` with a chat scope), changed when a role is added or revoked and
removed by a purge; `/help` and the welcome list the same commands, with only the usage the person may write.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.cli.support import cli_acting
from bot.services import people
from storage.models import Role
from tests.e2e.harness import RunningBot, bot_settings, code_for, outbox_idle, registered, running_bot, say
from tests.e2e.test_libur import import_opds
from tests.e2e.test_revocation import person_of
from tests.fake_telegram.server import FakeBotAPI
from tests.test_texts_in_templates import BY_ROLE, MENU

pytestmark = pytest.mark.e2e
COMMAND = re.compile(r"^/(\w+)", re.MULTILINE)


async def test_the_menu_shows_each_commands_help(fake_telegram: FakeBotAPI, tmp_path: Path) -> None:
    async with running_bot(bot_settings(fake_telegram, tmp_path)):
        menu = await fake_telegram.wait_for(fake_telegram.get_commands)
        assert [(c["command"], c["description"]) for c in menu] == MENU


def menu_of(fake: FakeBotAPI, chat_id: int) -> list[str]:
    return [c["command"] for c in fake.get_commands(f"chat:{chat_id}")]


async def menu_becomes(fake: FakeBotAPI, chat_id: int, names: list[str]) -> None:
    await fake.wait_for(lambda: menu_of(fake, chat_id) == names)


async def purge_in_process(bot: RunningBot, person_id: int) -> None:
    """The service `monev people purge` calls, run in this process."""
    acting = await cli_acting(bot.app)
    async with bot.app.services.db.write() as session:
        await people.purge_person(session, person_id, acting=acting, now=bot.app.now())


async def test_each_person_s_menu_lists_the_commands_of_their_roles(fake_telegram: FakeBotAPI, tmp_path: Path) -> None:
    kabid_menu = BY_ROLE[Role.KABID]
    async with running_bot(bot_settings(fake_telegram, tmp_path)) as bot:
        await import_opds(bot)
        liaison = await registered(fake_telegram, bot, 300, Role.OPD, "DISKOMINFO")
        kabid = await registered(fake_telegram, bot, 301, Role.KABID)
        admin = await registered(fake_telegram, bot, 302, Role.ADMIN)
        for user, role in ((liaison, Role.OPD), (kabid, Role.KABID), (admin, Role.ADMIN)):
            await menu_becomes(fake_telegram, user.id, BY_ROLE[role])
        # The welcome lists the same commands as the menu.
        welcome = fake_telegram.texts(kabid.id)[-1]
        assert COMMAND.findall(welcome.split("</b>", 2)[-1]) == kabid_menu

        # The Kabid's help: exactly the menu's commands, and only the codes the Kabid may mint.
        (help_text,) = await say(fake_telegram, kabid, "/help")
        assert COMMAND.findall(help_text) == kabid_menu
        (undang,) = [line for line in help_text.splitlines() if line.startswith("/undang")]
        assert undang.startswith("/undang admin | sekretariat | kasi | kabid — ")
        assert "KODE_OPD" not in undang and "tim" not in undang.split(" — ")[0]

        # A second role adds its commands; revoking it (the admin may revoke a liaison, not a Kabid) takes them off.
        (added,) = await say(fake_telegram, kabid, f"/daftar {await code_for(bot, Role.OPD, 'DINKES')}")
        assert "Pendaftaran berhasil" in added
        both = [name for name in BY_ROLE[Role.ADMIN] if name in {*kabid_menu, *BY_ROLE[Role.OPD]}]
        await menu_becomes(fake_telegram, kabid.id, both)
        assert "/kirim" in added
        (done,) = await say(fake_telegram, admin, f"/cabut {await person_of(bot, Role.KABID)}")
        assert "dicabut" in done
        await menu_becomes(fake_telegram, kabid.id, kabid_menu)
        await outbox_idle(bot.app.services.db)  # the revocation notice, so the next message is the help
        (help_text,) = await say(fake_telegram, kabid, "/help")
        assert COMMAND.findall(help_text) == menu_of(fake_telegram, kabid.id)

        # A purged liaison's chat falls back to the default menu; the others keep theirs.
        await purge_in_process(bot, await person_of(bot, Role.OPD))
        await outbox_idle(bot.app.services.db)
        await fake_telegram.wait_for(lambda: not fake_telegram.get_commands(f"chat:{liaison.id}"))
        assert menu_of(fake_telegram, admin.id) == BY_ROLE[Role.ADMIN]
        assert [c["command"] for c in fake_telegram.get_commands()] == [name for name, _ in MENU]
