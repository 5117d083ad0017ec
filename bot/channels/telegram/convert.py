"""Telegram updates to neutral requests. Everything in an update is untrusted input."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from telegram import Message, Update
from telegram.constants import ChatType, MessageEntityType

from bot.conversation.core import Attachment, Fetcher, Request, parse_command
from bot.services.safe_text import display_text

CHANNEL = "telegram"


def chat_key_of(payload: dict[str, Any]) -> str | None:
    """The chat an update belongs to, read from the raw payload (for per-chat ordering).

    The payload is not parsed yet and may be malformed: anything not shaped as expected gives None.
    """
    for key in ("message", "edited_message", "channel_post", "edited_channel_post", "my_chat_member"):
        if isinstance(payload.get(key), dict):
            return _id_of(payload[key].get("chat"))
    query = payload.get("callback_query")
    if isinstance(query, dict):
        message = query.get("message")
        chat = _id_of(message.get("chat")) if isinstance(message, dict) else None
        return chat if chat is not None else _id_of(query.get("from"))
    return None


def _id_of(entity: Any) -> str | None:
    """The `id` of a raw chat or user object, if it has a plain one."""
    if isinstance(entity, dict) and isinstance(entity.get("id"), int | str):
        return str(entity["id"])[:64]
    return None


def _shown_name(first_name: str | None) -> str | None:
    """The sender's Telegram name as others may read it (admins are told who registered)."""
    return display_text(first_name or "").strip()[:255] or None


def to_request(update: Update, *, received_at: datetime, journal_id: int | None, fetcher_for: Any) -> Request | None:
    """The neutral request for a message or button press; None for updates the bot does not answer."""
    if update.callback_query is not None:
        query = update.callback_query
        message = query.message
        chat = message.chat if message is not None else None
        return Request(
            channel=CHANNEL,
            chat_id=str(chat.id if chat else query.from_user.id),
            sender_id=str(query.from_user.id),
            sender_name=_shown_name(query.from_user.first_name),
            received_at=received_at,
            payload=query.data or "",
            message_id=str(message.message_id) if message else None,
            update_id=str(update.update_id),
            journal_id=journal_id,
            is_private=chat is None or chat.type == ChatType.PRIVATE,
        )
    message = update.message
    if message is None or message.from_user is None:
        return None
    text = message.text if message.text is not None else message.caption
    command, args = _command_of(message)
    private = message.chat.type == ChatType.PRIVATE
    return Request(
        channel=CHANNEL,
        chat_id=str(message.chat.id),
        sender_id=str(message.from_user.id),
        sender_name=_shown_name(message.from_user.first_name),
        received_at=received_at,
        command=command,
        args=args,
        text=text,
        attachments=_attachments_of(message, fetcher_for),
        message_id=str(message.message_id),
        reply_to=str(message.reply_to_message.message_id) if message.reply_to_message else None,
        update_id=str(update.update_id),
        journal_id=journal_id,
        is_private=private,
        addressed=private or _addressed_in_group(message),
    )


def _addressed_in_group(message: Message) -> bool:
    """A group message is for the bot when it is a command to it, mentions it, or replies to one of its messages."""
    bot = message.get_bot()
    username = bot.username.lower()
    if _command_of(message)[0] is not None:
        # `/status@other_bot` is for that bot; a bare `/status` goes to every bot in the group, ours included.
        head = (message.text or "").split(maxsplit=1)[0]
        return "@" not in head or head.partition("@")[2].lower() == username
    mentions = {
        **message.parse_entities([MessageEntityType.MENTION]),
        **message.parse_caption_entities([MessageEntityType.MENTION]),
    }
    if any(mention.lower() == f"@{username}" for mention in mentions.values()):
        return True
    replied = message.reply_to_message
    return replied is not None and replied.from_user is not None and replied.from_user.id == bot.id


def _command_of(message: Message) -> tuple[str | None, tuple[str, ...]]:
    # Telegram marks a leading command with a bot_command entity; a bare "/" in a caption is just text.
    if message.text is None:
        return None, ()
    entities = message.entities or ()
    if any(e.type == MessageEntityType.BOT_COMMAND and e.offset == 0 for e in entities):
        return parse_command(message.text)
    return None, ()


def _attachments_of(message: Message, fetcher_for: Any) -> tuple[Attachment, ...]:
    if message.document is not None:
        doc = message.document
        fetch: Fetcher = fetcher_for(doc.file_id)
        return (
            Attachment(
                kind="document",
                file_name=doc.file_name,
                mime_type=doc.mime_type,
                size=doc.file_size,
                fetch=fetch,
                media_group_id=message.media_group_id,
            ),
        )
    if message.photo:
        largest = max(message.photo, key=lambda p: (p.file_size or 0, p.width * p.height))
        return (
            Attachment(
                kind="photo",
                file_name=f"foto-{largest.file_unique_id}.jpg",
                mime_type="image/jpeg",
                size=largest.file_size,
                fetch=fetcher_for(largest.file_id),
                media_group_id=message.media_group_id,
            ),
        )
    return ()
