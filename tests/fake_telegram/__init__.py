"""A fake Telegram Bot API server for end-to-end tests of the bot."""

from .actors import FakeGroup, FakeUser
from .limits import Limits
from .models import DEFAULT_TOKEN, ApiError, Call, WebhookAttempt
from .server import FakeBotAPI

__all__ = [
    "DEFAULT_TOKEN",
    "ApiError",
    "Call",
    "FakeBotAPI",
    "FakeGroup",
    "FakeUser",
    "Limits",
    "WebhookAttempt",
]
