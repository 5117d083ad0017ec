"""The console channel: one message per line, for operators and for trying the bot locally.

Two ways to run it. `monev shell` answers each line at once (`run`, `handle_line`): it takes no lease and does not
compete with a running `monev run`; after each line it prints the messages waiting for its console person
(`show_waiting`). Under a `Runtime` it is a channel like Telegram (`bot.messaging.channel`): a
line is journaled (`submit_line`), processed by the journal loop in order, and its reply printed (`send`).
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
import shlex
import uuid
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

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
from bot.conversation.templating import Renderer, person_in_words
from bot.domain.enums import Channel
from bot.messaging.channel import Journal, JournalKey, RawEvent, Unparsable
from bot.messaging.delivery import Identity, Undeliverable
from bot.services import outbox
from bot.services.journal import JournalRow

if TYPE_CHECKING:  # aiohttp is imported by the web server, not by every CLI command
    from aiohttp import web

logger = logging.getLogger(__name__)

_TAG = re.compile(r"</?(b|i|code|strong|em|pre)>")


def to_plain_text(message: str) -> str:
    """Telegram HTML to terminal text: drop our few tags, unescape entities."""
    return html.unescape(_TAG.sub("", message))


class ConsoleChannel:
    """Reads lines, dispatches them as one fixed actor, prints the replies with numbered buttons.

    As a delivery channel it prints the outbox messages of console people on the same terminal, each under
    the line `[kepada <name>]`.
    """

    name = Channel.CONSOLE.value
    max_label_chars: int | None = None  # a terminal prints a label of any length

    def __init__(
        self,
        dispatcher: Dispatcher,
        actor: Actor,
        unix_user: str,
        out: TextIO,
        clock: Callable[[], datetime],
        *,
        identity_id: str | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.actor = actor
        self.unix_user = unix_user
        self.chat_id = f"console:{unix_user}"
        self.out = out
        self.clock = clock
        # The console identity of the actor (`root/kasi`): the shell shows the messages waiting for it.
        self.identity_id = identity_id
        self._buttons: list[Button] = []
        self._counter = 0

    @property
    def renderer(self) -> Renderer:
        return self.dispatcher.services.renderer

    async def run(self, stdin: TextIO) -> None:
        """Answer every line until EOF; what waited for this console person since its last session comes first."""
        loop = asyncio.get_running_loop()
        await self.show_waiting()
        while True:
            line = await loop.run_in_executor(None, stdin.readline)
            if not line:
                return
            await self.handle_line(line.rstrip("\n"))

    async def handle_line(self, line: str) -> None:
        """One line typed (or piped) by the operator, answered at once (`monev shell`)."""
        event = self._event_for(line)
        if event is None:
            return
        self._counter += 1
        request = self._request_of(event, received_at=self.clock(), message_id=str(self._counter))
        for reply in await self.dispatcher.handle(request, self.clock()):
            self._print(reply)
        await self.show_waiting()

    async def show_waiting(self) -> None:
        """Print the outbox messages waiting for this shell's console person, each once (`outbox.take_for_console`).

        The shell takes these itself rather than running the dispatcher: it holds no lease and must not claim
        anyone else's messages, Telegram's least of all; a message is marked sent before it is printed, so a
        second shell of the same person (or `monev run`'s dispatcher) never shows it again.
        """
        person_id = self.actor.person_id
        if self.identity_id is None or person_id is None:
            return
        async with self.dispatcher.services.db.write() as session:
            taken = await outbox.take_for_console(session, person_id, self.identity_id, self.clock())
        identity = Identity(self.name, self.identity_id, person_id, self.actor.display_name, None)
        for message in taken:
            await self.deliver(message.envelope, identity)

    # -- delivery: the same printing for direct replies and the outbox ---------------------------------------

    async def deliver(self, message: Envelope, identity: Identity) -> None:
        """An outbox message for a console person: rendered now, printed under whom it is for."""
        reply = message.render(self.renderer)
        # Any console person's message: the terminal is where the server's operators read theirs.
        self.out.write(f"[kepada {person_in_words(identity.display_name) or identity.chat_id}]\n")
        self._print(reply)

    def can_deliver(self, kind: str, identity: Identity, now: datetime) -> bool:
        """The terminal takes any message at any time."""
        return True

    def _event_for(self, line: str) -> RawEvent | None:
        """What a line asks for, as plain JSON (a journal row holds it); None: answered here (a local mistake)."""
        stripped = line.strip()
        if stripped.startswith(":tekan"):
            return self._press(stripped.removeprefix(":tekan").strip())
        if stripped.startswith(":file"):
            return self._file(stripped.removeprefix(":file").strip())
        if stripped.startswith(":"):
            self._say("konsol/perintah_konsol")
            return None
        return {"text": line}

    def _press(self, number: str) -> RawEvent | None:
        # The number refers to the buttons printed last, so it is read now, not when the row is processed.
        if not number.isdigit() or not 1 <= int(number) <= len(self._buttons):
            self._say("konsol/tombol_tidak_ada", number=number or "?")
            return None
        return {"payload": self._buttons[int(number) - 1].payload}

    def _file(self, rest: str) -> RawEvent | None:
        try:
            words = shlex.split(rest)
        except ValueError:
            words = rest.split()
        if not words or not Path(words[0]).expanduser().is_file():
            self._say("konsol/berkas_tidak_ada", path=words[0] if words else "")
            return None
        path = Path(words[0]).expanduser().absolute()
        caption = " ".join(words[1:]) or None
        return {"file": str(path), "size": path.stat().st_size, "caption": caption}

    def _request_of(self, event: RawEvent, **fields: Any) -> Request:
        """The request of a line's event; raises KeyError or TypeError for an event not shaped as `_event_for`'s."""
        if "text" in event:
            text = str(event["text"])
            command, args = parse_command(text)
            return self._new_request(command=command, args=args, text=text, **fields)
        if "payload" in event:
            return self._new_request(payload=str(event["payload"]), **fields)
        path = Path(event["file"])
        attachment = Attachment(
            kind="document",
            file_name=path.name,
            mime_type=None,
            size=int(event["size"]),
            fetch=local_file_fetcher(path),
        )
        caption = event.get("caption")
        return self._new_request(text=str(caption) if caption else None, attachments=(attachment,), **fields)

    def _new_request(self, **fields: Any) -> Request:
        return Request(
            channel=self.name,
            chat_id=self.chat_id,
            sender_id=self.chat_id,
            actor=self.actor,
            sender_name=None,
            **fields,
        )

    # -- under a Runtime: the Channel protocol ---------------------------------------------------------------

    async def submit_line(self, line: str, journal: Journal) -> bool:
        """Journal one line for the journal loop to process (its reply comes through `send`); False: not journaled."""
        event = self._event_for(line)
        if event is None:
            return False
        # The key is unique across terminals and restarts; the user says whose terminal the line came from.
        await journal.record([{"user": self.unix_user, "key": uuid.uuid4().hex, **event}])
        return True

    def journal_key(self, event: RawEvent) -> JournalKey:
        return JournalKey(str(event["key"]), f"console:{event['user']}")

    async def check(self) -> None:
        """Nothing to check: the terminal is there."""

    def web_routes(self, journal: Journal) -> Sequence[web.RouteDef]:
        return ()

    async def activate(self, journal: Journal) -> Sequence[Coroutine[Any, Any, None]]:
        """Lines are journaled whether or not this instance holds the lease; there is nothing else to run."""
        return ()

    async def to_request(self, row: JournalRow) -> Request | None:
        """The request of a journaled line, as this terminal's fixed actor."""
        payload = row.payload or {}
        if payload.get("user") != self.unix_user:
            # Another terminal's line (a second runtime on this database): its role is not ours to assume.
            logger.info("console journal row %s is from another terminal; not answered here", row.id)
            return None
        try:
            return self._request_of(payload, received_at=row.received_at, message_id=row.update_key, journal_id=row.id)
        except (KeyError, TypeError, ValueError) as error:
            raise Unparsable(error) from error

    async def before_reply(self, row: JournalRow) -> None:
        """A terminal needs nothing before a reply is printed."""

    async def send(self, chat_id: str, reply: Reply) -> None:
        """Print a reply for this terminal's chat; any other console chat is not reachable from here."""
        if chat_id != self.chat_id:
            raise Undeliverable(f"console chat {chat_id} is not this terminal's")
        self._print(reply)

    async def close(self) -> None:
        """The terminal stays open: it belongs to the caller."""

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
