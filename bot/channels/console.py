"""The console channel (`monev shell`): one message per line, for operators and for trying the bot locally."""

from __future__ import annotations

import asyncio
import html
import re
import shlex
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TextIO

from bot.conversation.core import (
    Actor,
    Attachment,
    Button,
    Reply,
    Request,
    fit_label,
    local_file_fetcher,
    parse_command,
)
from bot.conversation.dispatch import Dispatcher
from bot.conversation.envelope import Envelope
from bot.conversation.templating import Renderer
from bot.messaging.delivery import Identity

_TAG = re.compile(r"</?(b|i|code|strong|em|pre)>")


def to_plain_text(message: str) -> str:
    """Telegram HTML to terminal text: drop our few tags, unescape entities."""
    return html.unescape(_TAG.sub("", message))


class ConsoleChannel:
    """Reads lines, dispatches them as one fixed actor, prints the replies with numbered buttons.

    As a delivery channel it prints the outbox messages of console people on the same terminal, each under
    the line `[kepada <name>]`.
    """

    max_label_chars: int | None = None  # a terminal prints a label of any length

    def __init__(
        self,
        dispatcher: Dispatcher,
        actor: Actor,
        unix_user: str,
        out: TextIO,
        clock: Callable[[], datetime],
    ) -> None:
        self.dispatcher = dispatcher
        self.actor = actor
        self.chat_id = f"console:{unix_user}"
        self.out = out
        self.clock = clock
        self._buttons: list[Button] = []
        self._counter = 0

    @property
    def renderer(self) -> Renderer:
        return self.dispatcher.services.renderer

    async def run(self, stdin: TextIO) -> None:
        """Answer every line until EOF."""
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, stdin.readline)
            if not line:
                return
            await self.handle_line(line.rstrip("\n"))

    async def handle_line(self, line: str) -> None:
        """One line typed (or piped) by the operator."""
        request = self._request_for(line)
        if request is None:
            return
        for reply in await self.dispatcher.handle(request, self.clock()):
            self._print(reply)

    # -- delivery: the same printing for direct replies and the outbox ---------------------------------------

    async def send(self, chat_id: str, reply: Reply) -> None:
        """Print one reply as plain text (a terminal shows every console chat)."""
        self._print(reply)

    async def deliver(self, message: Envelope, identity: Identity) -> None:
        """An outbox message for a console person: rendered now, printed under whom it is for."""
        reply = message.render(self.renderer)
        self.out.write(f"[kepada {identity.display_name or identity.chat_id}]\n")
        await self.send(identity.chat_id, reply)

    def can_deliver(self, kind: str, identity: Identity, now: datetime) -> bool:
        """The terminal takes any message at any time."""
        return True

    def _request_for(self, line: str) -> Request | None:
        stripped = line.strip()
        if stripped.startswith(":tekan"):
            return self._press(stripped.removeprefix(":tekan").strip())
        if stripped.startswith(":file"):
            return self._file(stripped.removeprefix(":file").strip())
        if stripped.startswith(":"):
            self._say("konsol/perintah_konsol")
            return None
        command, args = parse_command(line)
        return self._new_request(command=command, args=args, text=line)

    def _press(self, number: str) -> Request | None:
        if not number.isdigit() or not 1 <= int(number) <= len(self._buttons):
            self._say("konsol/tombol_tidak_ada", number=number or "?")
            return None
        return self._new_request(payload=self._buttons[int(number) - 1].payload)

    def _file(self, rest: str) -> Request | None:
        try:
            words = shlex.split(rest)
        except ValueError:
            words = rest.split()
        if not words or not Path(words[0]).expanduser().is_file():
            self._say("konsol/berkas_tidak_ada", path=words[0] if words else "")
            return None
        path = Path(words[0]).expanduser()
        caption = " ".join(words[1:]) or None
        attachment = Attachment(
            kind="document",
            file_name=path.name,
            mime_type=None,
            size=path.stat().st_size,
            fetch=local_file_fetcher(path),
        )
        return self._new_request(text=caption, attachments=(attachment,))

    def _new_request(self, **fields: object) -> Request:
        self._counter += 1
        return Request(
            channel="console",
            chat_id=self.chat_id,
            sender_id=self.chat_id,
            received_at=self.clock(),
            actor=self.actor,
            sender_name=None,
            message_id=str(self._counter),
            **fields,  # type: ignore[arg-type]
        )

    def _print(self, reply: Reply) -> None:
        self.out.write(to_plain_text(reply.text) + "\n")
        if reply.document:
            self.out.write(f"[dokumen] {reply.document.file_name}\n")
        if reply.buttons:
            self._buttons = [button for row in reply.buttons for button in row]
            for number, button in enumerate(self._buttons, start=1):
                self.out.write(f"[{number}] {fit_label(button.label, self.max_label_chars)}\n")
        self.out.flush()

    def _say(self, template: str, **params: object) -> None:
        self._print(Reply(self.renderer.render(template, **params)))
