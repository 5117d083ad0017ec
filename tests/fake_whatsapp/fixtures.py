"""Pytest plugin: the `fake_whatsapp` fixture."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from .server import FakeWhatsAppAPI


@pytest_asyncio.fixture
async def fake_whatsapp() -> AsyncIterator[FakeWhatsAppAPI]:
    """A started fake Cloud API with Meta's limits, stopped after the test; set `webhook_url` to post to the bot."""
    fake = FakeWhatsAppAPI()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
