"""The Channel protocol: what the runtime and journaled processing need from a chat platform.

A channel (Telegram, the console; WhatsApp next) says how it starts, which web routes it adds, how a raw inbound
event becomes a journal key and a journaled row a `Request`, and how it sends a reply. The runtime holds a list of
channels and knows none by name; `bot.messaging.inbound` runs every channel's journal the same way.
"""

from __future__ import annotations

from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from bot.conversation.core import Request
from bot.messaging.delivery import Deliverer
from bot.services.journal import JournalRow

if TYPE_CHECKING:  # aiohttp is imported by the web server, not by every CLI command
    from aiohttp import web

# A raw inbound event as the platform sent it (plain JSON): journaled unchanged, read again by `to_request`.
RawEvent = dict[str, Any]


class ConfigurationError(Exception):
    """A channel's configuration is refused at start-up (e.g. Telegram rejects the token); `monev run` exits 2."""


class Unparsable(Exception):
    """A journaled event the channel cannot read: its row is marked failed at once, with no reply."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(frozen=True)
class JournalKey:
    """Where a raw event goes in the journal."""

    update_key: str  # unique per channel: an event delivered twice is journaled once
    chat_key: str | None  # the chat whose events are processed in order; None: an event of no chat


class Journal(Protocol):
    """One channel's journal, as the channel's transport sees it (the webhook route, the polling loop, a terminal)."""

    async def record(self, events: Sequence[RawEvent]) -> int:
        """Commit raw events (only then may the platform be told they arrived); returns how many were new."""
        ...


class Channel(Deliverer, Protocol):
    """A chat platform behind the runtime: its start, its web routes, its inbound events and its sends.

    Life cycle, as `bot.runtime` drives it: `check()` once at process start; `web_routes(journal)` mounted on the
    web server, which every instance serves (a standby journals what reaches it and does nothing else); as lease
    holder `activate(journal)`, whose returned loops run until the instance steps down (they are cancelled then);
    `close()` at shutdown.
    """

    def journal_key(self, event: RawEvent) -> JournalKey:
        """The journal key of a raw event (the caller only passes events the channel accepted)."""
        ...

    async def check(self) -> None:
        """The configuration check at process start (Telegram: getMe); raises `ConfigurationError`."""
        ...

    def web_routes(self, journal: Journal) -> Sequence[web.RouteDef]:
        """The routes this channel adds to the web server (Telegram's webhook), served on holder and standby."""
        ...

    async def activate(self, journal: Journal) -> Sequence[Coroutine[Any, Any, None]]:
        """This instance holds the lease: one-off work now (the command menu, the webhook), and the loops to run
        until it steps down (polling)."""
        ...

    async def to_request(self, row: JournalRow) -> Request | None:
        """The neutral request of a journaled row; None: done without a reply. Raises `Unparsable`."""
        ...

    async def before_reply(self, row: JournalRow) -> None:
        """What the platform needs before a stored reply is sent (Telegram answers the button press)."""
        ...

    async def close(self) -> None:
        """Release what `check` and `activate` opened (shutdown, also after a failed start)."""
        ...
