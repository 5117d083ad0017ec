"""What the outbox dispatcher asks of a channel, and how a channel tells it that a delivery did not work."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from bot.conversation.core import Reply
from bot.conversation.envelope import Envelope
from bot.services.outbox import Identity

__all__ = ["AwaitingReply", "Deliverer", "DeliveryFailed", "DeliveryRejected", "Identity", "Undeliverable"]


class Undeliverable(Exception):
    """The chat cannot receive messages: the user blocked the bot (403) or the chat does not exist."""


class DeliveryRejected(Exception):
    """The platform refused the message itself (a 400 other than "chat not found"): our bug, not retried."""


class DeliveryFailed(Exception):
    """A network or server failure: the message is retried later."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after  # seconds the platform asked us to wait (a rate limit), if it said


class AwaitingReply(Exception):
    """Only a notice could go (WhatsApp outside the 24-hour window): the message goes when the person replies."""

    def __init__(self, reason: str, platform_message_id: str | None = None) -> None:
        super().__init__(reason)
        self.platform_message_id = platform_message_id


class Deliverer(Protocol):
    """A channel that sends replies and delivers outbox messages to its chats.

    `send` and `deliver` raise `Undeliverable`, `DeliveryRejected` or `DeliveryFailed` (`deliver` also
    `AwaitingReply`); anything else counts as an attempt whose outcome is unknown.
    """

    @property
    def name(self) -> str:
        """The channel's name as the database stores it ("telegram", "console")."""
        ...

    async def send(self, chat_id: str, reply: Reply) -> None:
        """Send a direct reply (a person is waiting for it) in the platform's form; a channel with a rate limit
        lets it ahead of its outbox messages, which `deliver` sends."""

    async def deliver(self, message: Envelope, identity: Identity) -> str | None:
        """An outbox message: render it (once) and `send` it to the identity's chat.

        Returns the platform's id of the message when the platform reports its delivery later (WhatsApp's wamid).
        """

    def can_deliver(self, kind: str, identity: Identity, now: datetime) -> bool:
        """Whether a message of `kind` can go to this identity now (WhatsApp: its 24-hour window, or a template)."""
