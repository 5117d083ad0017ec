"""One person in a chat, on Telegram or on WhatsApp: flows written once run on both channels.

Each driver sends as its platform's fake user does and waits for the bot's next messages, returning the texts
the person reads (Telegram's HTML as the Bot API shows it, WhatsApp's own formatting).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from storage.models import Role
from tests.e2e.broadcast_world import open_broadcast
from tests.e2e.harness import RunningBot, bot_settings, code_for, running_bot
from tests.e2e.whatsapp_world import whatsapp_settings
from tests.fake_telegram.actors import FakeUser
from tests.fake_telegram.models import text_content
from tests.fake_telegram.server import FakeBotAPI
from tests.fake_whatsapp import FakeWhatsAppAPI, FakeWhatsAppUser, interactive_choices

CHANNELS = ("telegram", "whatsapp")
PEMDI = "permenpanrb-8-2026-pemdi"
_MARKUP = re.compile(r"</?(b|i|code)>|\*|_|```")


def plain(text: str) -> str:
    """A text without either channel's formatting marks, to compare what people read on both."""
    return _MARKUP.sub("", text)


class Chatter(Protocol):
    async def say(self, text: str, replies: int = 1) -> list[str]: ...
    async def send_document(
        self, data: bytes, name: str, caption: str | None = None, replies: int = 1
    ) -> list[str]: ...
    async def press(self, number: int, replies: int = 1) -> list[str]: ...
    def choices(self) -> list[str]: ...
    def count(self) -> int: ...
    async def received(self, since: int, count: int) -> list[str]: ...
    def documents(self) -> list[str]: ...
    async def reply_to(self, index: int, text: str, replies: int = 1) -> list[str]: ...
    async def press_on(self, index: int, number: int, replies: int = 1) -> list[str]: ...
    async def forge(self, payload: str, replies: int = 1) -> list[str]: ...


class TelegramChatter:
    def __init__(self, fake: FakeBotAPI, user: FakeUser) -> None:
        self.fake, self.user = fake, user

    async def _after(self, action: Callable[[], Any], replies: int) -> list[str]:
        before = len(self.fake.sent_messages(self.user.id))
        action()
        messages = await self.fake.wait_for_messages(self.user.id, before + replies, timeout=15)
        return [str(m.get("text") or m.get("caption") or "") for m in messages[before:]]

    async def say(self, text: str, replies: int = 1) -> list[str]:
        return await self._after(lambda: self.user.send_text(text), replies)

    async def send_document(self, data: bytes, name: str, caption: str | None = None, replies: int = 1) -> list[str]:
        return await self._after(lambda: self.user.send_document(data, name, caption=caption), replies)

    async def press(self, number: int, replies: int = 1) -> list[str]:
        return await self._after(lambda: self.user.press_button(number), replies)

    def choices(self) -> list[str]:
        return [str(b["text"]) for b in self.user.buttons()]

    def count(self) -> int:
        """How many messages the bot has sent this person so far (a mark for `received`)."""
        return len(self.fake.sent_messages(self.user.id))

    async def received(self, since: int, count: int) -> list[str]:
        """The texts of the `count` messages after the mark `since`, waiting for them (messages nobody asked for)."""
        messages = await self.fake.wait_for_messages(self.user.id, since + count, timeout=15)
        return [str(m.get("text") or m.get("caption") or "") for m in messages[since:]]

    def documents(self) -> list[str]:
        """The file names of the documents the bot sent this person."""
        return [str(m["document"]["file_name"]) for m in self.fake.sent_messages(self.user.id) if m.get("document")]

    async def reply_to(self, index: int, text: str, replies: int = 1) -> list[str]:
        """Answer the bot's message number `index` (from 0) with Telegram's reply."""
        quoted = self.fake.sent_messages(self.user.id)[index]
        content = {**text_content(text), "reply_to_message": quoted}
        return await self._after(lambda: self.fake.incoming_message(self.user.id, self.user.id, content), replies)

    async def press_on(self, index: int, number: int, replies: int = 1) -> list[str]:
        """Press button `number` of the bot's message number `index` (an older message, not the latest)."""
        quoted = self.fake.sent_messages(self.user.id)[index]
        return await self._after(lambda: self.user.press_button(number, quoted), replies)

    async def forge(self, payload: str, replies: int = 1) -> list[str]:
        """A button press with data the bot never offered this person."""
        return await self._after(lambda: self.user.press(payload, forge=True), replies)


class WhatsAppChatter:
    def __init__(self, fake: FakeWhatsAppAPI, user: FakeWhatsAppUser) -> None:
        self.fake, self.user = fake, user

    async def _after(self, action: Callable[[], Awaitable[Any]], replies: int) -> list[str]:
        before = len(self.user.messages())
        result = await action()
        assert result.status == 200
        await self.fake.wait_for_messages(self.user, before + replies, timeout=15)
        return self.user.texts()[before:]

    async def say(self, text: str, replies: int = 1) -> list[str]:
        return await self._after(lambda: self.user.send_text(text), replies)

    async def send_document(self, data: bytes, name: str, caption: str | None = None, replies: int = 1) -> list[str]:
        return await self._after(lambda: self.user.send_document(data, name, caption=caption), replies)

    async def press(self, number: int, replies: int = 1) -> list[str]:
        latest = self._latest_with_choices()
        if latest["interactive"]["type"] == "button":
            return await self._after(lambda: self.user.press(number=number), replies)
        return await self._after(lambda: self.user.choose(number=number), replies)

    def choices(self) -> list[str]:
        return [str(c["title"]) for c in interactive_choices(self._latest_with_choices())]

    def count(self) -> int:
        return len(self.user.messages())

    async def received(self, since: int, count: int) -> list[str]:
        await self.fake.wait_for_messages(self.user, since + count, timeout=15)
        return self.user.texts()[since:]

    def documents(self) -> list[str]:
        return [str(m["document"]["filename"]) for m in self.user.messages() if m.get("type") == "document"]

    async def reply_to(self, index: int, text: str, replies: int = 1) -> list[str]:
        """Answer the bot's message number `index` (from 0) quoting it (WhatsApp's `context.id`)."""
        quoted = self.user.messages()[index]
        event = self.user.message_event("text", {"body": text}, context_id=str(quoted["id"]))
        return await self._after(lambda: self.user.send(event), replies)

    async def press_on(self, index: int, number: int, replies: int = 1) -> list[str]:
        """Press reply button `number` of the bot's message number `index`."""
        choice = interactive_choices(self.user.messages()[index])[number - 1]
        return await self._after(lambda: self.user.press(str(choice["id"])), replies)

    async def forge(self, payload: str, replies: int = 1) -> list[str]:
        return await self._after(lambda: self.user.send(self.user.forged_button_event(payload)), replies)

    def _latest_with_choices(self) -> dict[str, Any]:
        for message in reversed(self.user.messages()):
            if interactive_choices(message):
                return message
        raise LookupError("no message with choices")


@asynccontextmanager
async def liaison_chat(
    channel: str, fake_telegram: FakeBotAPI, fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path
) -> AsyncIterator[tuple[RunningBot, Chatter]]:
    """An open campaign for DINKES and its liaison, registered by code in a chat on `channel`."""
    settings = (
        bot_settings(fake_telegram, tmp_path) if channel == "telegram" else whatsapp_settings(fake_whatsapp, tmp_path)
    )
    await open_broadcast(settings, {}, extra_opds=("DINKES",), now=datetime.now().astimezone(), framework=PEMDI)
    chatter: Chatter
    if channel == "telegram":
        chatter = TelegramChatter(fake_telegram, fake_telegram.user(700_001, first_name="Siti"))
    else:
        chatter = WhatsAppChatter(fake_whatsapp, fake_whatsapp.user(wa_id="6281234567001", name="Siti"))
    async with running_bot(settings) as bot:
        greeting, _, _ = await chatter.say(f"/daftar {await code_for(bot, Role.OPD, 'DINKES')}", 3)
        assert "Pendaftaran berhasil" in greeting
        # Only Telegram has a command menu to point to.
        assert ("menu chat ini" in greeting) == (channel == "telegram")
        yield bot, chatter
