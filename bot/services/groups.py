"""Groups: the bot works in private chats; in a group it only points people there, at most once an hour each.

What the bound covers: the hint ("mohon chat pribadi") given in answer to a command to the bot or a mention of
it, per person and per group. Everything else in a group (members talking, commands to other bots) is never
answered, and nothing a person sends in a group is acted on.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import BotState

HINT_EVERY = timedelta(hours=1)


def hint_due(last: datetime | None, now: datetime) -> bool:
    """Whether a person is pointed to the private chat again: never before in this group, or an hour ago or more."""
    return last is None or now - last >= HINT_EVERY


async def take_hint(session: AsyncSession, channel: str, chat_id: str, sender_id: str, now: datetime) -> bool:
    """Whether to give the hint now; if so, it is remembered (in this transaction) for the next hour."""
    who = f"{channel}:{chat_id}:{sender_id}"
    # bot_state keys are 64 characters; a digest keeps any chat and sender id within them.
    key = "group_hint:" + hashlib.sha256(who.encode()).hexdigest()[:40]
    row = await session.get(BotState, key)
    if row is not None and not hint_due(row.updated_at, now):
        return False
    if row is None:
        session.add(BotState(key=key, value=who[:255], updated_at=now))
    else:
        row.updated_at = now
    return True
