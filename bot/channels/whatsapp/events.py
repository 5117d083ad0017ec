"""Webhook bodies split into journalable events: one message, or one status, each in a body of its own.

Meta batches: one POST may hold several entries, changes, messages and statuses. pywa reads only the first
message of the first change, so each event is cut out into a body of the same shape holding just it (and the
contact it concerns), which pywa then parses as if Meta had sent it alone. Everything here is untrusted input:
whatever is not shaped as expected is skipped, never raised on.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from bot.messaging.channel import JournalKey, RawEvent

logger = logging.getLogger(__name__)

# The journal's column widths (storage.models.InboundEvent).
MAX_UPDATE_KEY, MAX_CHAT_KEY = 128, 64


@dataclass(frozen=True)
class Split:
    """What one webhook body holds: the events for our number, and how many were for another one."""

    events: list[RawEvent]
    foreign: int = 0
    skipped: int = 0


def split_body(body: Any, phone_id: str) -> Split:
    """Every message and status of a webhook body as a single-event body; other numbers' events are left out."""
    events: list[RawEvent] = []
    foreign = skipped = 0
    if not isinstance(body, dict):
        return Split([], 0, 1)
    for entry in _dicts(body.get("entry")):
        for change in _dicts(entry.get("changes")):
            value = change.get("value")
            if change.get("field") != "messages" or not isinstance(value, dict):
                skipped += 1  # account, template and other updates: nothing the bot acts on
                continue
            metadata = value.get("metadata")
            if not isinstance(metadata, dict) or str(metadata.get("phone_number_id")) != phone_id:
                foreign += len(_dicts(value.get("messages"))) + len(_dicts(value.get("statuses")))
                continue
            contacts = _dicts(value.get("contacts"))
            for kind, sender_keys in (
                ("messages", ("from_user_id", "from")),
                ("statuses", ("recipient_user_id", "recipient_id")),
            ):
                for item in _dicts(value.get(kind)):
                    if not isinstance(item.get("id"), str) or not item["id"]:
                        skipped += 1
                        continue
                    contact = _contact_of(item, contacts, sender_keys)
                    single = {
                        "messaging_product": value.get("messaging_product", "whatsapp"),
                        "metadata": metadata,
                        "contacts": [contact] if contact is not None else [],
                        kind: [item],
                    }
                    if isinstance(value.get("errors"), list):
                        single["errors"] = value["errors"]
                    events.append(
                        {
                            "object": body.get("object"),
                            "entry": [{"id": entry.get("id"), "changes": [{"field": "messages", "value": single}]}],
                        }
                    )
    return Split(events, foreign, skipped)


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _contact_of(
    item: dict[str, Any], contacts: list[dict[str, Any]], sender_keys: tuple[str, str]
) -> dict[str, Any] | None:
    """The contact an event is about: by business-scoped user id, else by phone number, else the only one."""
    user_key, phone_key = sender_keys
    for contact in contacts:
        if item.get(user_key) and contact.get("user_id") == item.get(user_key):
            return contact
    for contact in contacts:
        if item.get(phone_key) and contact.get("wa_id") == item.get(phone_key):
            return contact
    return contacts[0] if len(contacts) == 1 else None


def value_of(event: RawEvent) -> dict[str, Any]:
    """The `value` of a single-event body (as `split_body` made it)."""
    value = event["entry"][0]["changes"][0]["value"]
    assert isinstance(value, dict)
    return value


def message_of(event: RawEvent) -> dict[str, Any] | None:
    """The message of a single-event body, or None for a status."""
    messages = value_of(event).get("messages")
    return messages[0] if messages else None


def status_of(event: RawEvent) -> tuple[str, str] | None:
    """(message id, status) of a single-event status body: sent, delivered, read or failed; None for a message."""
    statuses = value_of(event).get("statuses")
    if not statuses or not isinstance(statuses[0], dict):
        return None
    message_id, status = statuses[0].get("id"), statuses[0].get("status")
    return (message_id, status) if isinstance(message_id, str) and isinstance(status, str) else None


def sender_of(event: RawEvent) -> str | None:
    """The business-scoped user id the event is from (a message) or about (a status)."""
    value = value_of(event)
    contacts = value.get("contacts") or []
    if contacts and isinstance(contacts[0].get("user_id"), str):
        return str(contacts[0]["user_id"])
    item = (value.get("messages") or value.get("statuses") or [{}])[0]
    found = item.get("from_user_id") or item.get("recipient_user_id")
    return str(found) if isinstance(found, str) else None


def journal_key(event: RawEvent) -> JournalKey:
    """Messages by message id; statuses by (message id, status); a message's chat is its sender's user id."""
    value = value_of(event)
    message = message_of(event)
    if message is not None:
        chat = sender_of(event)
        return JournalKey(_fit(f"m:{message['id']}"), chat[:MAX_CHAT_KEY] if chat else None)
    status = value["statuses"][0]
    return JournalKey(_fit(f"s:{status['id']}:{status.get('status')}"), None)


def _fit(key: str) -> str:
    """Keys longer than the column (message ids are opaque and may grow) are shortened by a hash, stably."""
    if len(key) <= MAX_UPDATE_KEY:
        return key
    return key[:60] + "#" + hashlib.sha256(key.encode()).hexdigest()
