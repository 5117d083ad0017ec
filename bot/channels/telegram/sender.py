"""Sending replies to Telegram through the project rate limiter, honouring 429s and retrying network errors."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.conversation.core import Reply, fit_label, split_text
from bot.messaging.delivery import Undeliverable
from bot.messaging.ratelimit import RateLimiter

logger = logging.getLogger(__name__)

T = TypeVar("T")
NETWORK_RETRIES = 5
# Telegram has no practical limit on an inline button's label (the app elides a long one): labels go as written.
MAX_LABEL_CHARS: int | None = None
# Routine answers that mean "nothing to do", not a bug of ours.
ROUTINE_BAD_REQUESTS = ("query is too old", "message is not modified", "query id is invalid")


class TelegramSender:
    """Sends neutral replies; one call per Telegram message, each through the rate limiter."""

    def __init__(self, bot: Bot, limiter: RateLimiter) -> None:
        self.bot = bot
        self.limiter = limiter

    async def send_reply(self, chat_id: int, reply: Reply, *, urgent: bool = False) -> str | None:
        """Send one text reply: split below 4,096 characters, the buttons on the last part.

        `urgent`: a direct reply, which the limiter lets ahead of outbox messages. Returns the last part's message
        id, so a reply to it can be told apart (a liaison's question answered by replying to it).
        """
        parts = split_text(reply.text)
        sent: Message | None = None
        for index, part in enumerate(parts):
            markup = _keyboard(reply) if index == len(parts) - 1 else None
            sent = await self.call(
                chat_id,
                lambda part=part, markup=markup: self.bot.send_message(  # type: ignore[misc]
                    chat_id, part, parse_mode=ParseMode.HTML, reply_markup=markup
                ),
                urgent=urgent,
            )
        return str(sent.message_id) if sent is not None else None

    async def send_document(self, chat_id: int, file_id: str, reply: Reply, *, urgent: bool = False) -> Message | None:
        """Send a document Telegram already has, by its file_id."""
        return await self.call(
            chat_id,
            lambda: self.bot.send_document(
                chat_id, file_id, caption=_caption(reply), parse_mode=ParseMode.HTML, reply_markup=_keyboard(reply)
            ),
            urgent=urgent,
        )

    async def upload_document(self, chat_id: int, path: Path, reply: Reply, *, urgent: bool = False) -> Message | None:
        """Upload a stored file (streamed from disk, under its original name)."""
        assert reply.document is not None
        name = reply.document.file_name

        async def send() -> Message:
            with path.open("rb") as handle:
                return await self.bot.send_document(
                    chat_id,
                    InputFile(handle, filename=name),
                    caption=_caption(reply),
                    parse_mode=ParseMode.HTML,
                    reply_markup=_keyboard(reply),
                )

        return await self.call(chat_id, send, urgent=urgent)

    async def answer_callback(self, query_id: str) -> None:
        """Stop the button's spinner; a stale query is routine and ignored."""
        try:
            await self.bot.answer_callback_query(query_id)
        except BadRequest as error:
            if not _is_routine(error):
                logger.warning("answerCallbackQuery failed: %s", error.message)
        except NetworkError:
            logger.info("answerCallbackQuery failed on the network; the spinner times out by itself")

    async def call(self, chat_id: int, send: Callable[[], Awaitable[T]], *, urgent: bool = False) -> T | None:
        """One rate-limited API call: waits out 429s, retries network errors with backoff."""
        network_failures = 0
        while True:
            await self.limiter.acquire(chat_id, is_group=chat_id < 0, urgent=urgent)
            try:
                return await send()
            except RetryAfter as error:
                delay = error.retry_after
                seconds = delay.total_seconds() if hasattr(delay, "total_seconds") else float(delay)
                logger.warning("Telegram asked to slow down for chat %s: waiting %.1f s", chat_id, seconds)
                # The limiter holds the chat, so every other sender to it waits too; this one sleeps it out.
                self.limiter.retry_after(chat_id, seconds, is_group=chat_id < 0)
                await asyncio.sleep(seconds)
            except Forbidden as error:
                raise Undeliverable(f"blocked: {error.message}") from None
            except BadRequest as error:
                if "chat not found" in error.message.lower():
                    raise Undeliverable("chat not found") from None
                if _is_routine(error):
                    return None
                raise
            except (TimedOut, NetworkError) as error:
                network_failures += 1
                if network_failures > NETWORK_RETRIES:
                    raise
                logger.info("network error sending to chat %s (%s), retrying", chat_id, type(error).__name__)
                await asyncio.sleep(min(2**network_failures * 0.25, 10))


def _caption(reply: Reply) -> str | None:
    """Telegram allows 1,024 characters of caption."""
    text = (reply.document.caption if reply.document else None) or reply.text
    return text[:1024] if text else None


def _keyboard(reply: Reply, max_label_chars: int | None = MAX_LABEL_CHARS) -> InlineKeyboardMarkup | None:
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(fit_label(b.label, max_label_chars), callback_data=b.payload) for b in row]
            for row in reply.buttons
        ]
    )


def _is_routine(error: BadRequest) -> bool:
    return any(text in error.message.lower() for text in ROUTINE_BAD_REQUESTS)
