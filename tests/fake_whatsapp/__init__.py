"""A fake WhatsApp Cloud API (Graph API) and fake WhatsApp users for tests of the bot's WhatsApp channel."""

from .actors import FakeWhatsAppUser, interactive_choices
from .limits import Limits, TemplateSpec
from .models import (
    API_VERSION,
    DEFAULT_APP_SECRET,
    DEFAULT_PHONE_ID,
    DEFAULT_TOKEN,
    DEFAULT_VERIFY_TOKEN,
    DEFAULT_WABA_ID,
    Call,
    GraphError,
    WebhookResult,
)
from .payloads import Event, encode, sign
from .server import SIGNED, FakeWhatsAppAPI
from .transport import RedirectingTransport, redirecting_client

__all__ = [
    "API_VERSION",
    "DEFAULT_APP_SECRET",
    "DEFAULT_PHONE_ID",
    "DEFAULT_TOKEN",
    "DEFAULT_VERIFY_TOKEN",
    "DEFAULT_WABA_ID",
    "SIGNED",
    "Call",
    "Event",
    "FakeWhatsAppAPI",
    "FakeWhatsAppUser",
    "GraphError",
    "Limits",
    "RedirectingTransport",
    "TemplateSpec",
    "WebhookResult",
    "encode",
    "interactive_choices",
    "redirecting_client",
    "sign",
]
