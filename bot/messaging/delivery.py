"""How a channel tells the outbox dispatcher that a delivery did not work (channel-neutral)."""

from __future__ import annotations

from typing import Protocol

from bot.conversation.core import Reply


class Undeliverable(Exception):
    """The chat cannot receive messages: the user blocked the bot (403) or the chat does not exist."""


class DeliveryRejected(Exception):
    """The platform refused the message itself (a 400 other than "chat not found"): our bug, not retried."""


class DeliveryFailed(Exception):
    """A network or server failure: the message is retried later."""


class Deliverer(Protocol):
    """A channel that can deliver an outbox message to one of its chats."""

    @property
    def name(self) -> str:
        """The channel's name as the database stores it ("telegram", "console")."""
        ...

    async def send(self, chat_id: str, reply: Reply) -> None:
        """Send one neutral reply to one chat; raises the delivery errors above."""
        ...
