"""Webhook bodies as Meta sends them: the envelope, signatures and a non-canonical JSON encoding."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any, Literal

from .models import JSON

EventKind = Literal["message", "status"]


@dataclass(frozen=True)
class Event:
    """One message or status for a webhook POST, with the contact it concerns."""

    kind: EventKind
    contact: JSON
    item: JSON

    @property
    def id(self) -> str:
        """The message id (wamid) of the message, or of the message the status is about."""
        return str(self.item["id"])


def sign(body: bytes, app_secret: str) -> str:
    """The X-Hub-Signature-256 header Meta sends: HMAC-SHA256 of the raw body with the app secret."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def encode(payload: Any, *, canonical: bool = False) -> bytes:
    """JSON the way Meta's webhooks look: ASCII with `\\u00e9` escapes and `\\/`, spaced unlike json.dumps.

    A signature check over re-serialised JSON instead of the raw bytes fails on it, as it would in production.
    """
    if canonical:
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    text = json.dumps(payload, ensure_ascii=True, separators=(" , ", " : "))
    # "/" only ever occurs inside strings in JSON output, so escaping it keeps the document equal.
    return text.replace("/", "\\/").encode("ascii")


def metadata(phone_id: str, display_phone: str) -> JSON:
    """The `value.metadata` naming the business number the event belongs to."""
    return {"display_phone_number": display_phone, "phone_number_id": phone_id}


def build_payload(
    events: list[Event], *, waba_id: str, phone_id: str, display_phone: str, separate_entries: bool = False
) -> JSON:
    """One webhook body: messages share one change, statuses another (or each event its own entry)."""
    groups: list[list[Event]]
    if separate_entries:
        groups = [[event] for event in events]
    else:
        groups = [
            g for g in ([e for e in events if e.kind == "message"], [e for e in events if e.kind == "status"]) if g
        ]
    changes = [_change(group, phone_id, display_phone) for group in groups]
    if separate_entries:
        entries = [{"id": waba_id, "changes": [change]} for change in changes]
    else:
        entries = [{"id": waba_id, "changes": changes}]
    return {"object": "whatsapp_business_account", "entry": entries}


def _change(events: list[Event], phone_id: str, display_phone: str) -> JSON:
    contacts: list[JSON] = []
    for event in events:
        if event.contact not in contacts:
            contacts.append(event.contact)
    field = "messages" if events[0].kind == "message" else "statuses"
    value: JSON = {
        "messaging_product": "whatsapp",
        "metadata": metadata(phone_id, display_phone),
        "contacts": contacts,
        field: [event.item for event in events],
    }
    return {"value": value, "field": "messages"}
