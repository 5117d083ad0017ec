"""Neutral replies as WhatsApp messages: reply buttons or a list, the body within WhatsApp's limits.

Limits (DESIGN.md §5, CONTRACT.md "Messages and buttons"): a text is at most 4,096 characters; a message with
buttons or a list has at most 1,024 characters of body, so a longer text goes first as plain messages; at most 3
reply buttons (titles 20 characters); a list holds at most 10 rows in all (titles 24, descriptions 72).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import httpx
from pywa_async import WhatsApp, errors, types

from bot.channels.whatsapp.format import to_whatsapp
from bot.conversation.core import Button, Reply, fit_label, split_text
from bot.conversation.templating import Renderer
from bot.messaging.delivery import DeliveryFailed, DeliveryRejected, Undeliverable
from bot.messaging.ratelimit import RateLimiter

logger = logging.getLogger(__name__)

T = TypeVar("T")
MAX_TEXT, MAX_BODY, MAX_CAPTION = 4096, 1024, 1024
MAX_REPLY_BUTTONS, REPLY_BUTTON_CHARS = 3, 20
MAX_LIST_ROWS, ROW_TITLE_CHARS, ROW_DESCRIPTION_CHARS, LIST_BUTTON_CHARS = 10, 24, 72, 20
# Answers that mean the person cannot be reached by this number now (not a bug of ours, not worth a retry).
UNREACHABLE = (errors.MessageUndeliverable, errors.ReEngagementMessage, errors.RecipientNotInAllowedList)
# Answers that clear by themselves: Meta's throttling and its own outages.
TRANSIENT = (errors.ThrottlingError, errors.ServiceUnavailable, errors.UnknownError, errors.GenericError)


class WhatsAppSender:
    """Sends neutral replies to one chat (a business-scoped user id), each API call through the rate limiter."""

    def __init__(self, client: WhatsApp, limiter: RateLimiter, renderer: Renderer) -> None:
        self.client = client
        self.limiter = limiter
        self.renderer = renderer

    async def send_reply(self, to: str, reply: Reply) -> None:
        """Text (split), then the buttons as reply buttons or as a list on a body of at most 1,024 characters."""
        choices = [button for row in reply.buttons for button in row]
        parts = split_text(reply.text, MAX_TEXT)
        if choices:
            last = parts.pop()
            parts.extend(split_text(last, MAX_BODY))  # the converted text is never longer than the HTML
        *plain, body = parts
        for part in plain:
            await self._send_text(to, to_whatsapp(part))
        if not choices:
            await self._send_text(to, to_whatsapp(body))
            return
        chunks = [choices[i : i + MAX_LIST_ROWS] for i in range(0, len(choices), MAX_LIST_ROWS)]
        for number, chunk in enumerate(chunks):
            text = body if number == 0 else self.renderer.render("whatsapp/pilihan_lanjutan")
            await self._send_choices(to, to_whatsapp(text), self._markup(chunk))

    async def _send_choices(self, to: str, text: str, markup: list[types.Button] | types.SectionList) -> None:
        await self.call(to, lambda: self.client.send_message(to=to, text=text, buttons=markup))

    def fits_caption(self, text: str) -> bool:
        """Whether a text can go as a document's caption (WhatsApp allows 1,024 characters)."""
        return len(to_whatsapp(text)) <= MAX_CAPTION

    async def send_document(self, to: str, path: Path, file_name: str, caption: str | None) -> None:
        """Upload a stored file and send it under its original name."""
        text = to_whatsapp(caption) if caption else None
        await self.call(to, lambda: self.client.send_document(to=to, document=path, filename=file_name, caption=text))

    async def _send_text(self, to: str, text: str) -> None:
        if text.strip():
            await self.call(to, lambda: self.client.send_message(to=to, text=text))

    def _markup(self, choices: list[Button]) -> list[types.Button] | types.SectionList:
        short = [fit_label(b.label, REPLY_BUTTON_CHARS) for b in choices]
        if len(choices) <= MAX_REPLY_BUTTONS and all(b.description is None for b in choices) and _distinct(short):
            return [types.Button(title=title, callback_data=b.payload) for title, b in zip(short, choices, strict=True)]
        rows = [
            types.SectionRow(
                title=fit_label(b.label, ROW_TITLE_CHARS),
                callback_data=b.payload,
                description=fit_label(b.description, ROW_DESCRIPTION_CHARS) if b.description else None,
            )
            for b in choices
        ]
        section = types.Section(
            title=fit_label(self.renderer.plain("tombol/whatsapp_bagian"), ROW_TITLE_CHARS), rows=rows
        )
        opener = fit_label(self.renderer.plain("tombol/whatsapp_daftar"), LIST_BUTTON_CHARS)
        return types.SectionList(button_title=opener, sections=[section])

    async def call(self, to: str, send: Callable[[], Awaitable[T]]) -> T:
        """One rate-limited Cloud API call, its errors as the ones the journal and the outbox read."""
        await self.limiter.acquire(f"wa:{to}")
        try:
            return await send()
        except UNREACHABLE as error:
            raise Undeliverable(f"WhatsApp error {error.code}") from None
        except TRANSIENT as error:
            raise DeliveryFailed(f"WhatsApp error {error.code}") from None
        except errors.WhatsAppError as error:
            status = error.status_code or 0
            if status >= 500 or getattr(error, "is_transient", False):
                raise DeliveryFailed(f"WhatsApp error {error.code} (HTTP {status})") from None
            raise DeliveryRejected(f"WhatsApp error {error.code}: {error.message}") from None
        except httpx.TransportError as failure:
            # httpx names the URL in its messages; keep only the error type.
            raise DeliveryFailed(f"network error: {type(failure).__name__}") from None


def _distinct(titles: list[str]) -> bool:
    """Two reply buttons cut to the same title could not be told apart: such choices go into a list."""
    return len(set(titles)) == len(titles)
