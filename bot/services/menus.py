"""Each registered person's command menu: the commands of the roles they hold, on every chat that has a menu.

Telegram shows a menu per chat (`setMyCommands` with a chat scope). When a person's roles change — a
registration, a linked account, a revocation (also of one role), a purge — every such chat of theirs gets its
new menu through the outbox, in the transaction of the change: durable, in order with the person's other
messages, fenced by the lease and rate-limited like any send. The message names the roles; the channel lists
their commands (`bot.conversation.commands.commands_for`) when it delivers. A chat left with no role falls back
to the default menu everyone sees.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation.envelope import Envelope
from bot.domain.enums import Role
from bot.services import outbox
from storage.models import ChannelIdentity, RoleAssignment

# The channels whose chats have a command menu of their own (WhatsApp has none).
MENU_CHANNELS = ("telegram",)


async def roles_of(session: AsyncSession, person_id: int) -> frozenset[Role]:
    """The roles the person holds now (any OPD)."""
    held = await session.scalars(
        select(RoleAssignment.role).where(RoleAssignment.person_id == person_id, RoleAssignment.revoked_at.is_(None))
    )
    return frozenset(Role(r) for r in held)


async def menu_chats(session: AsyncSession, person_id: int) -> list[tuple[str, str]]:
    """The person's chats that have a menu (a purged identity has no chat left)."""
    rows = await session.execute(
        select(ChannelIdentity.channel, ChannelIdentity.external_id)
        .where(
            ChannelIdentity.person_id == person_id,
            ChannelIdentity.channel.in_(MENU_CHANNELS),
            ~ChannelIdentity.external_id.startswith("purged-"),
        )
        .order_by(ChannelIdentity.id)
    )
    return [(channel, chat_id) for channel, chat_id in rows.all()]


async def queue_menus(
    session: AsyncSession, person_id: int, now: datetime, chats: Iterable[tuple[str, str]] | None = None
) -> None:
    """Queue each of the person's chats (or `chats`, taken before a purge redacts them) its menu as roles are now."""
    roles = [r.value for r in await roles_of(session, person_id)]
    for channel, chat_id in await menu_chats(session, person_id) if chats is None else chats:
        await outbox.enqueue(session, person_id=person_id, message=Envelope.menu(channel, chat_id, roles), now=now)
