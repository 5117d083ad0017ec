"""Small facts the bot learns while running, kept in the database (e.g. its Telegram username)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import BotState

TELEGRAM_USERNAME = "telegram_username"


async def remember(session: AsyncSession, key: str, value: str | None, now: datetime) -> None:
    if value is None:
        return
    row = await session.get(BotState, key)
    if row is None:
        session.add(BotState(key=key, value=value, updated_at=now))
    else:
        row.value, row.updated_at = value, now


async def recall(session: AsyncSession, key: str) -> str | None:
    return await session.scalar(select(BotState.value).where(BotState.key == key))
