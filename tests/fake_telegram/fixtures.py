"""Pytest plugin: the `fake_telegram` fixture."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from .server import FakeBotAPI


@pytest_asyncio.fixture
async def fake_telegram() -> AsyncIterator[FakeBotAPI]:
    """A started fake Bot API with Telegram's default limits, stopped after the test."""
    fake = FakeBotAPI()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
