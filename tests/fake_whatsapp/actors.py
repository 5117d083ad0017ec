"""Fake WhatsApp users: they write to the bot as signed webhook POSTs and read what it sent them."""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING, Any

from .models import JSON, WebhookResult
from .payloads import Event

if TYPE_CHECKING:
    from .server import FakeWhatsAppAPI


class FakeWhatsAppUser:
    """A WhatsApp user: business-scoped `user_id` (BSUID), optional phone `wa_id`, a profile name.

    The `*_event` methods build one event for `fake.post_events([...])` (several per POST); the `send_*`
    methods build and post one at once and return what the webhook answered.
    """

    def __init__(self, fake: FakeWhatsAppAPI, user_id: str, wa_id: str | None, name: str) -> None:
        self.fake = fake
        self.user_id = user_id
        self.wa_id = wa_id
        self.name = name

    def contact(self) -> JSON:
        """This user's entry in a webhook's `contacts[]`."""
        contact: JSON = {"profile": {"name": self.name}}
        if self.wa_id:
            contact["wa_id"] = self.wa_id
        contact["user_id"] = self.user_id
        return contact

    # ----- building events -------------------------------------------------------------------------

    def message_event(self, kind: str, content: JSON, context_id: str | None = None) -> Event:
        """A message of any type (`kind` is the Cloud API's `type`, `content` its object)."""
        item: JSON = {}
        if context_id is not None:
            item["context"] = {"from": self.fake.display_phone, "id": context_id}
        if self.wa_id:
            item["from"] = self.wa_id
        item.update(
            {
                "from_user_id": self.user_id,
                "id": self.fake.new_message_id(),
                "timestamp": str(int(self.fake.clock().timestamp())),
                "type": kind,
                kind: content,
            }
        )
        return Event("message", self.contact(), item)

    def text_event(self, text: str) -> Event:
        """A text message."""
        return self.message_event("text", {"body": text})

    def button_event(self, button_id: str | None = None, *, number: int | None = None) -> Event:
        """A reply-button press on the bot's latest message to this user showing that button."""
        message, choice = self._choice("button", button_id, number)
        reply = {"id": choice["id"], "title": choice["title"]}
        return self.message_event("interactive", {"type": "button_reply", "button_reply": reply}, message["id"])

    def list_event(self, row_id: str | None = None, *, number: int | None = None) -> Event:
        """A list-row choice on the bot's latest list message to this user holding that row."""
        message, row = self._choice("list", row_id, number)
        reply = {key: row[key] for key in ("id", "title", "description") if key in row}
        return self.message_event("interactive", {"type": "list_reply", "list_reply": reply}, message["id"])

    def forged_button_event(self, button_id: str, title: str = "Palsu", context_id: str | None = None) -> Event:
        """A button reply the bot never offered (stale or hand-made), on `context_id` if given."""
        reply = {"id": button_id, "title": title}
        return self.message_event("interactive", {"type": "button_reply", "button_reply": reply}, context_id)

    def document_event(
        self, data: bytes, file_name: str, mime_type: str = "application/pdf", caption: str | None = None
    ) -> Event:
        """A document; its bytes go to the fake's media store, downloadable through the media URL."""
        content = self._media(data, mime_type, file_name)
        content["filename"] = file_name
        if caption is not None:
            content["caption"] = caption
        return self.message_event("document", content)

    def image_event(self, data: bytes, mime_type: str = "image/jpeg", caption: str | None = None) -> Event:
        """An image (a photo), stored like a document."""
        content = self._media(data, mime_type, None)
        if caption is not None:
            content["caption"] = caption
        return self.message_event("image", content)

    def sticker_event(self) -> Event:
        """A sticker (not something the bot handles)."""
        content = self._media(b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp", None)
        content["animated"] = False
        return self.message_event("sticker", content)

    def voice_event(self, data: bytes = b"OggS\x00\x02voice") -> Event:
        """A voice note (an `audio` message with `voice: true`)."""
        content = self._media(data, "audio/ogg; codecs=opus", None)
        content["voice"] = True
        return self.message_event("audio", content)

    def location_event(self, latitude: float = -0.0263, longitude: float = 109.3425, name: str | None = None) -> Event:
        """A shared location (default: Pontianak)."""
        content: JSON = {"latitude": latitude, "longitude": longitude}
        if name is not None:
            content["name"] = name
        return self.message_event("location", content)

    def reaction_event(self, message_id: str, emoji: str = "\N{THUMBS UP SIGN}") -> Event:
        """A reaction to one of the bot's messages."""
        return self.message_event("reaction", {"message_id": message_id, "emoji": emoji})

    def _media(self, data: bytes, mime_type: str, file_name: str | None) -> JSON:
        stored = self.fake.store_media(data, mime_type, file_name)
        # Webhooks carry the sha256 in base64; the media URL lookup gives it in hex.
        digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
        return {"mime_type": mime_type, "sha256": digest, "id": stored.media_id}

    def _choice(self, kind: str, wanted: str | None, number: int | None) -> tuple[JSON, JSON]:
        for message in reversed(self.fake.sent_messages(self)):
            choices = interactive_choices(message, kind)
            if not choices:
                continue
            if number is not None and wanted is None:
                if not 1 <= number <= len(choices):
                    raise LookupError(f"no {kind} choice {number} on {choices}")
                return message, choices[number - 1]
            for choice in choices:
                if choice["id"] == wanted:
                    return message, choice
        raise LookupError(f"no {kind} message to {self.user_id} offers {wanted or number!r}")

    # ----- posting -------------------------------------------------------------------------------

    async def send(self, event: Event) -> WebhookResult:
        """Post one event, signed, to the bot's webhook."""
        return await self.fake.post_events([event])

    async def send_text(self, text: str) -> WebhookResult:
        """Write a text to the bot."""
        return await self.send(self.text_event(text))

    async def press(self, button_id: str | None = None, *, number: int | None = None) -> WebhookResult:
        """Press a reply button (by id, or its position from 1) of the bot's latest message offering it."""
        return await self.send(self.button_event(button_id, number=number))

    async def choose(self, row_id: str | None = None, *, number: int | None = None) -> WebhookResult:
        """Pick a row (by id, or its position from 1) of the bot's latest list offering it."""
        return await self.send(self.list_event(row_id, number=number))

    async def send_document(
        self, data: bytes, file_name: str, mime_type: str = "application/pdf", caption: str | None = None
    ) -> WebhookResult:
        """Send a document."""
        return await self.send(self.document_event(data, file_name, mime_type, caption))

    async def send_image(self, data: bytes, mime_type: str = "image/jpeg", caption: str | None = None) -> WebhookResult:
        """Send an image."""
        return await self.send(self.image_event(data, mime_type, caption))

    # ----- reading -------------------------------------------------------------------------------

    def messages(self) -> list[JSON]:
        """What the bot sent to this user, in order."""
        return self.fake.sent_messages(self)

    def texts(self) -> list[str]:
        """The readable text of each message the bot sent to this user."""
        return self.fake.texts(self)

    def last_message(self) -> JSON | None:
        """The bot's latest message to this user."""
        sent = self.messages()
        return sent[-1] if sent else None

    def __repr__(self) -> str:
        return f"FakeWhatsAppUser({self.user_id!r}, wa_id={self.wa_id!r}, name={self.name!r})"


def interactive_choices(message: JSON, kind: str = "any") -> list[JSON]:
    """The reply buttons (`{"id", "title"}`) or list rows of a sent interactive message, in reading order."""
    interactive: Any = message.get("interactive")
    if not isinstance(interactive, dict):
        return []
    action = interactive.get("action") or {}
    if interactive.get("type") == "button" and kind in ("button", "any"):
        return [dict(b["reply"]) for b in action.get("buttons", []) if isinstance(b, dict) and "reply" in b]
    if interactive.get("type") == "list" and kind in ("list", "any"):
        return [dict(row) for section in action.get("sections", []) for row in section.get("rows", [])]
    return []
