"""Journaled WhatsApp events to neutral requests, through pywa's own update types. Everything is untrusted."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pywa.types.base_update import RawUpdate
from pywa.types.chat import ChatType
from pywa_async import WhatsApp, types
from pywa_async.types import MessageType

from bot.channels.whatsapp.events import message_of
from bot.conversation.commands import COMMANDS, Command, find_command
from bot.conversation.core import Attachment, Fetcher, Request, parse_command
from bot.messaging.channel import RawEvent
from bot.services.safe_text import display_text

CHANNEL = "whatsapp"
# Usage words that stand for free text: a command ending in one takes any number of words.
_FREE_TEXT = re.compile(r"ALASAN|keterangan|KATA")
# The media the intake takes; stickers, voice notes, locations, reactions and the rest get "tidak didukung".
MEDIA_TYPES = {"document": "document", "image": "photo"}

FetcherFor = Callable[[str, str], Fetcher]


def parse(client: WhatsApp, event: RawEvent) -> types.Message | types.CallbackButton | types.CallbackSelection | None:
    """The pywa update of a journaled message (None for a status); pywa raises on a body it cannot read."""
    message = message_of(event)
    if message is None:
        return None
    kind = message.get("type")
    interactive = message.get("interactive")
    choice = interactive.get("type") if isinstance(interactive, dict) else None
    # pywa's updates keep their raw update as it would have come in (the journaled single-event body).
    raw = RawUpdate(json.dumps(event).encode(), hmac_header=None, update_hash=str(message.get("id")))
    if (kind == "interactive" and choice == "button_reply") or kind == "button":
        return types.CallbackButton.from_update(client, raw)
    if kind == "interactive" and choice == "list_reply":
        return types.CallbackSelection.from_update(client, raw)
    return types.Message.from_update(client, raw)


def to_request(
    update: types.Message | types.CallbackButton | types.CallbackSelection,
    *,
    received_at: datetime,
    journal_id: int | None,
    fetcher_for: FetcherFor,
    media_group_id: str | None,
    commands: tuple[Command, ...] = COMMANDS,
) -> Request:
    """The neutral request of a message or a button or list choice; the chat is the sender's business-scoped id."""
    user = update.from_user
    sender = str(user.bsuid)
    common: dict[str, Any] = {
        "channel": CHANNEL,
        "chat_id": sender,
        "sender_id": sender,
        "sender_name": display_text(user.name or "").strip()[:255] or None,
        "sender_phone": str(user.wa_id)[:32] if user.wa_id else None,
        "received_at": received_at,
        "message_id": str(update.id),
        "update_id": str(update.id),
        "journal_id": journal_id,
    }
    if isinstance(update, types.CallbackButton | types.CallbackSelection):
        return Request(**common, payload=str(update.data))
    is_private = update.chat.type != ChatType.GROUP
    if update.type == MessageType.TEXT:
        text = update.text or ""
        command, args = command_of(text, commands)
        replied = update.reply_to_message.id if update.reply_to_message else None
        return Request(**common, command=command, args=args, text=text, is_private=is_private, reply_to=replied)
    attachments = _attachments_of(update, fetcher_for, media_group_id)
    if attachments:
        return Request(**common, text=update.caption, attachments=attachments, is_private=is_private)
    return Request(**common, is_private=is_private)  # no text, no file: the dispatcher says it is not supported


def command_of(text: str, commands: tuple[Command, ...] = COMMANDS) -> tuple[str | None, tuple[str, ...]]:
    """`/status` as on Telegram; without the slash, only exactly a command word and the arguments it takes.

    "status" and "daftar K7QM2X9D" are commands; "status berkas saya bagaimana?" is free text.
    """
    command, args = parse_command(text)
    if command is not None:
        return command, args
    words = text.split()
    if not words:
        return None, ()
    found = find_command(words[0].lower(), commands)
    if found is None or found.slash_only or len(words) - 1 > _max_args(found):
        return None, ()
    return words[0].lower(), tuple(words[1:])


def _max_args(command: Command) -> float:
    """How many words may follow the command: the longest usage form's, unbounded when it ends in free text."""
    longest = 0.0
    for form in (command.usage or "").split(" | "):
        tokens = form.split()
        if any(_FREE_TEXT.search(token) for token in tokens):
            return float("inf")
        longest = max(longest, len(tokens))
    return longest


def _attachments_of(update: types.Message, fetcher_for: FetcherFor, group: str | None) -> tuple[Attachment, ...]:
    kind = update.type.value if update.type else ""
    if kind not in MEDIA_TYPES:
        return ()
    media = update.document if kind == "document" else update.image
    if media is None:
        return ()
    if kind == "document":
        name = getattr(media, "filename", None)
    else:
        name = f"foto-{hashlib.sha256(update.id.encode()).hexdigest()[:12]}.{_extension(media.mime_type)}"
    return (
        Attachment(
            kind=MEDIA_TYPES[kind],
            file_name=name,
            mime_type=media.mime_type,
            size=None,  # WhatsApp does not say; the download stops at the limit instead
            fetch=fetcher_for(str(media.id), name or "berkas"),
            media_group_id=group,
        ),
    )


def _extension(mime_type: str | None) -> str:
    return {"image/png": "png", "image/webp": "webp"}.get(mime_type or "", "jpg")
