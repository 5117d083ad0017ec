"""The real bot with its WhatsApp channel on the real web server, against the fake Cloud API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

from bot.settings import Settings
from tests.conftest import make_settings
from tests.e2e.harness import RunningBot, free_port, running_bot
from tests.fake_whatsapp import FakeWhatsAppAPI, FakeWhatsAppUser


def whatsapp_settings(fake: FakeWhatsAppAPI, tmp_path: Path, **extra: str) -> Settings:
    """WhatsApp only (no Telegram token), the web server on a port of its own, a fast lease."""
    port = free_port()
    fake.webhook_url = f"http://127.0.0.1:{port}/whatsapp"
    env = {
        **fake.monev_settings(),
        "MONEV_HTTP_PORT": str(port),
        "MONEV_LEASE_RENEW_SECONDS": "0.2",
        "MONEV_LEASE_TIMEOUT_SECONDS": "1.5",
        # As in `telegram_env`: the automatic check of evidence has tests of its own and would add its messages.
        "MONEV_EVIDENCE_WORKERS": "0",
        "MONEV_RECAP_TIME": "off",
        **extra,
    }
    return make_settings(tmp_path / "data", **env)


@asynccontextmanager
async def whatsapp_bot(settings: Settings, clock: Callable[[], datetime] | None = None) -> AsyncIterator[RunningBot]:
    """`monev run` with the WhatsApp channel, serving `POST /whatsapp` on the settings' port."""
    async with running_bot(settings, clock) as bot:
        yield bot


async def say(fake: FakeWhatsAppAPI, user: FakeWhatsAppUser, text: str, replies: int = 1) -> list[str]:
    """Write to the bot and wait for its next `replies` messages; their readable texts."""
    before = len(user.messages())
    result = await user.send_text(text)
    assert result.status == 200
    await fake.wait_for_messages(user, before + replies, timeout=15)
    return user.texts()[before:]
