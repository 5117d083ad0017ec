"""Neutral replies as WhatsApp messages: reply buttons or a list, the body within WhatsApp's limits.

Limits (DESIGN.md §5, CONTRACT.md "Messages and buttons"): a text is at most 4,096 characters; a message with
buttons or a list has at most 1,024 characters of body, so a longer text goes first as plain messages; at most 3
reply buttons (titles 20 characters); a list holds at most 10 rows in all (titles 24, descriptions 72).
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import httpx
from pywa_async import WhatsApp, errors, types
from pywa_async.types.templates import TemplateLanguage

from bot.channels.whatsapp.format import to_whatsapp
from bot.conversation.core import Button, Reply, fit_label, split_text
from bot.conversation.templating import Renderer
from bot.messaging.delivery import DeliveryFailed, DeliveryRejected, Undeliverable
from bot.messaging.ratelimit import Limits, RateLimiter

logger = logging.getLogger(__name__)

T = TypeVar("T")
MAX_TEXT, MAX_BODY, MAX_CAPTION = 4096, 1024, 1024
MAX_REPLY_BUTTONS, REPLY_BUTTON_CHARS = 3, 20
MAX_LIST_ROWS, ROW_TITLE_CHARS, ROW_DESCRIPTION_CHARS, LIST_BUTTON_CHARS = 10, 24, 72, 20
# Answers that mean the person cannot be reached by this number now (not a bug of ours, not worth a retry).
UNREACHABLE = (errors.MessageUndeliverable, errors.ReEngagementMessage, errors.RecipientNotInAllowedList)
# Answers that clear by themselves: Meta's own outages (throttling is handled apart, with a pause).
TRANSIENT = (errors.ServiceUnavailable, errors.UnknownError, errors.GenericError)
# Meta's pair rate limit (131056): about one message every 6 seconds to one person, after a burst.
PAIR_RATE_LIMIT, PAIR_PAUSE, THROUGHPUT_PAUSE = 131056, 6.0, 1.0


def whatsapp_limits(messages_per_second: int) -> Limits:
    """WhatsApp's buckets (a limiter of its own, not Telegram's): MONEV_WHATSAPP_MPS for the number, and per
    person Meta's pair rate limit (one message every 6 seconds after a burst, which Meta tolerates up to ~45)."""
    return Limits(
        global_rate=float(messages_per_second),
        global_burst=messages_per_second,
        chat_rate=1 / PAIR_PAUSE,
        chat_burst=40,
    )


class WhatsAppSender:
    """Sends neutral replies to one chat (a business-scoped user id), each API call through the rate limiter."""

    def __init__(self, client: WhatsApp, limiter: RateLimiter, renderer: Renderer) -> None:
        self.client = client
        self.limiter = limiter
        self.renderer = renderer

    async def send_reply(self, to: str, reply: Reply) -> str | None:
        """Text (split), then the buttons as reply buttons or as a list on a body of at most 1,024 characters.

        Returns the id (wamid) of the last message sent, whose statuses tell whether the whole reply arrived.
        """
        choices = [button for row in reply.buttons for button in row]
        parts = split_text(reply.text, MAX_TEXT)
        if choices:
            last = parts.pop()
            parts.extend(split_text(last, MAX_BODY))  # the converted text is never longer than the HTML
        *plain, body = parts
        sent: str | None = None
        for part in plain:
            sent = await self._send_text(to, to_whatsapp(part)) or sent
        if not choices:
            return await self._send_text(to, to_whatsapp(body)) or sent
        chunks = [choices[i : i + MAX_LIST_ROWS] for i in range(0, len(choices), MAX_LIST_ROWS)]
        for number, chunk in enumerate(chunks):
            text = body if number == 0 else self.renderer.render("whatsapp/pilihan_lanjutan")
            sent = await self._send_choices(to, to_whatsapp(text), self._markup(chunk))
        return sent

    async def _send_choices(self, to: str, text: str, markup: list[types.Button] | types.SectionList) -> str:
        sent = await self.call(to, lambda: self.client.send_message(to=to, text=text, buttons=markup))
        return str(sent.id)

    def fits_caption(self, text: str) -> bool:
        """Whether a text can go as a document's caption (WhatsApp allows 1,024 characters)."""
        return len(to_whatsapp(text)) <= MAX_CAPTION

    async def send_document(self, to: str, document: Path | str, file_name: str, caption: str | None) -> str:
        """A stored file (a path: uploaded with the send) or an uploaded one (its media id), under its own name."""
        text = to_whatsapp(caption) if caption else None
        sent = await self.call(
            to, lambda: self.client.send_document(to=to, document=document, filename=file_name, caption=text)
        )
        return str(sent.id)

    async def upload(self, path: Path, file_name: str) -> str:
        """Upload a stored file once; its media id serves every later send for 30 days."""
        mime = mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        media = await self.call(
            "", lambda: self.client.upload_media(media=path, mime_type=mime, filename=file_name), limited=False
        )
        return str(media.id)

    async def send_template(
        self, to: str, name: str, language: str, values: list[str], header_media: tuple[str, str] | None
    ) -> str:
        """An approved template: body parameters in order, and the document header (media id, file name) if any."""
        components: list[dict[str, object]] = []
        if header_media is not None:
            media_id, file_name = header_media
            document = {"type": "document", "document": {"id": media_id, "filename": file_name}}
            components.append({"type": "header", "parameters": [document]})
        if values:
            components.append({"type": "body", "parameters": [{"type": "text", "text": v} for v in values]})
        code = TemplateLanguage(language)
        sent = await self.call(
            to, lambda: self.client.send_template(to=to, name=name, language=code, params=components or None)
        )
        return str(sent.id)

    async def _send_text(self, to: str, text: str) -> str | None:
        if not text.strip():
            return None
        sent = await self.call(to, lambda: self.client.send_message(to=to, text=text))
        return str(sent.id)

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

    async def call(self, to: str, send: Callable[[], Awaitable[T]], *, limited: bool = True) -> T:
        """One rate-limited Cloud API call, its errors as the ones the journal and the outbox read.

        Not a WhatsApp number and re-engagement required (outside the window) are final; the throughput and pair
        rate limits hold this person's (or every) send for a while and the message is retried after it.
        """
        if limited:
            await self.limiter.acquire(f"wa:{to}")
        try:
            return await send()
        except UNREACHABLE as error:
            raise Undeliverable(f"WhatsApp error {error.code}") from None
        except errors.ThrottlingError as error:
            pause = PAIR_PAUSE if error.code == PAIR_RATE_LIMIT else THROUGHPUT_PAUSE
            if error.code == PAIR_RATE_LIMIT:
                self.limiter.retry_after(f"wa:{to}", pause)
            logger.info("WhatsApp rate limit %s: holding sends for %s s", error.code, pause)
            raise DeliveryFailed(f"WhatsApp error {error.code}", retry_after=pause) from None
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
