"""A fake WhatsApp Cloud API (Graph API) and fake WhatsApp users for tests of the bot's WhatsApp channel.

    fake = FakeWhatsAppAPI()                      # or the `fake_whatsapp` fixture
    await fake.start()
    settings = fake.monev_settings()              # MONEV_WHATSAPP_* for the bot, BASE_URL included
    fake.webhook_url = "http://127.0.0.1:PORT/whatsapp"
    fake.add_template("pengingat", "Yth. {{1}}, batas unggah {{2}}.")
    siti = fake.user(wa_id="6281234567001", name="Siti Aminah")
    await siti.send_text("daftar KODE")           # a signed webhook POST; opens her 24-hour window
    await fake.wait_for_messages(siti, 1)
    await siti.press(number=1)                    # reply button 1 of the bot's latest buttons to her
    await fake.post_events([siti.image_event(JPEG), siti.image_event(JPEG)])  # one POST, two messages
    await fake.post_status(siti.messages()[0]["id"], "read")
    fake.inject_error("messages", 131056, to=siti)  # her next send answers the pair rate limit

The bot's pywa client reaches the fake through `redirecting_client(fake.base_url)` (see transport.py).
"""

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
