"""The parameters of an approved WhatsApp template, taken from an outbox message (CONTRACT.md).

WhatsApp forbids newlines in template parameters: values are single-line, lists become counts (`single_line`),
and times are written in words in the city's zone, as the free-form messages write them.
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.conversation.envelope import Envelope, single_line
from bot.conversation.templating import date_in_words
from bot.messaging.delivery import Identity
from bot.settings import WhatsAppTemplate

logger = logging.getLogger(__name__)

RECIPIENT = "penerima"
# Meta caps a body parameter's text; a long title is cut rather than the whole template refused.
MAX_PARAM_CHARS = 200


def template_values(template: WhatsAppTemplate, message: Envelope, identity: Identity, zone: ZoneInfo) -> list[str]:
    """The template's `params`, in order: the recipient's name, or paths into the message's parameters."""
    available = message.template_parameters()
    values: list[str] = []
    for name in template.params:
        if name == RECIPIENT:
            value = single_line(identity.display_name) if identity.display_name else "Bapak/Ibu"
        elif name in available:
            value = _readable(available[name], zone)
        else:
            # A template file naming a parameter this kind does not carry: send a dash, say so once per send.
            logger.warning("WhatsApp template %s: kind %s has no parameter %s", template.key, message.kind, name)
            value = "-"
        values.append(value[:MAX_PARAM_CHARS])
    return values


def _readable(value: str, zone: ZoneInfo) -> str:
    """An ISO time (how envelopes keep times) in words in the city's zone; anything else as it is."""
    if len(value) >= 19 and value[4] == "-" and "T" in value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        if moment.tzinfo is not None:
            return date_in_words(moment, zone)
    return value
