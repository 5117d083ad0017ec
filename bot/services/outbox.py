"""The outbox: every message that is not a direct reply is written here, in the transaction of its cause.

Rows address a person and hold a channel-neutral `Envelope` (bot.conversation.envelope), rendered by the
channel at delivery; the channel and chat are chosen at dispatch (the most recently active identity that is not
marked unreachable, on a channel this process runs and that can deliver the message's kind now). Delivery
attempts are recorded append-only in `delivery_attempt`. Every write of the sender is fenced: it counts only
while the lease still shows the sender's `Fence`, so a holder that stalled past a takeover can neither claim
nor record anything.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.conversation.core import reply_from_json
from bot.conversation.envelope import Envelope
from bot.domain.enums import Channel, OutboxStatus
from bot.services.lease import Fence, holds
from storage.database import signal_after_commit
from storage.models import ChannelIdentity, DeliveryAttempt, OutboxMessage, Person, PlatformFile

OPEN = (OutboxStatus.PENDING.value, OutboxStatus.SENDING.value)
# The commit signal of a transaction that queued a message (storage.database.signal_after_commit).
TOPIC = "outbox"
# The channels a person is reached on wherever the bot runs.
MESSAGING_CHANNELS = ("telegram", "whatsapp")
# The channels whose messages wait until the channel runs, instead of being recorded unreachable: the messaging
# channels, and the console, whose persons read theirs in their next `monev shell` session (`take_for_console`).
WAITING_CHANNELS = (*MESSAGING_CHANNELS, Channel.CONSOLE.value)
INVITATION_KINDS = ("undangan", "permintaan_data")
# The reason recorded when a person's only account is WhatsApp, outside its 24-hour window, with no template.
NO_WHATSAPP_TEMPLATE = "whatsapp: outside the 24-hour window, no template"
# WhatsApp's statuses of a message, in the order they happen; a late webhook never moves a receipt back.
RECEIPTS = ("sent", "delivered", "read", "failed")
# WhatsApp media ids live 30 days; one a day younger than that is still safe to send.
MEDIA_ID_LIFETIME = timedelta(days=29)


@dataclass(frozen=True)
class Identity:
    """One account a queued message may go to: the person's chat on one channel."""

    channel: str
    chat_id: str  # the channel's own id of the chat (Telegram user id, WhatsApp number, console user)
    person_id: int
    display_name: str | None
    last_inbound_at: datetime | None  # WhatsApp's 24-hour window opens with the person's last message


@dataclass(frozen=True)
class Claimed:
    """A message the dispatcher is about to send."""

    id: int
    person_id: int
    envelope: Envelope
    attempts: int = 0


async def enqueue(
    session: AsyncSession,
    *,
    person_id: int,
    message: Envelope,
    now: datetime,
    campaign_id: int | None = None,
    opd_id: int | None = None,
    expires_at: datetime | None = None,
    reminder_id: int | None = None,
) -> int:
    """Write one message for a person; it goes out once the caller's transaction commits (never from `expires_at`)."""
    row = OutboxMessage(
        person_id=person_id,
        kind=message.kind,
        template_key=message.whatsapp_template,
        payload=json.dumps(message.to_json(), ensure_ascii=False),
        status=OutboxStatus.PENDING.value,
        not_before=now,
        created_at=now,
        campaign_id=campaign_id,
        opd_id=opd_id,
        expires_at=expires_at,
        reminder_id=reminder_id,
    )
    session.add(row)
    await session.flush()
    signal_after_commit(session, TOPIC)  # the dispatcher of this process looks at once
    return row.id


async def next_due(session: AsyncSession, now: datetime) -> datetime | None:
    """When the earliest pending message that is not due yet (a retry) becomes due; None if there is none."""
    return await session.scalar(
        select(func.min(OutboxMessage.not_before)).where(
            OutboxMessage.status == OutboxStatus.PENDING.value, OutboxMessage.not_before > now
        )
    )


def _envelope_of(row: OutboxMessage) -> Envelope:
    """The row's message; a row queued before the envelope existed holds its reply already rendered."""
    data = json.loads(row.payload or "{}")
    if "reply" in data:
        return Envelope.from_reply(row.kind, reply_from_json(data["reply"]), row.template_key)
    return Envelope.from_json(data)


async def release_in_flight(session: AsyncSession, fence: Fence) -> int:
    """After a crash or a lease takeover, messages left `sending` go out again (at most one per chat twice)."""
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.SENDING.value, holds(fence))
        .values(status=OutboxStatus.PENDING.value)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def _not_expired(now: datetime) -> Any:
    """SQL: the message may still be sent at `now` (a reminder is worth nothing after its working day)."""
    return OutboxMessage.expires_at.is_(None) | (OutboxMessage.expires_at > now)


async def expire(session: AsyncSession, now: datetime) -> int:
    """Messages still waiting at their `expires_at` are given up (status expired); how many."""
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.status == OutboxStatus.PENDING.value,
            OutboxMessage.expires_at.is_not(None),
            OutboxMessage.expires_at <= now,
        )
        .values(status=OutboxStatus.EXPIRED.value)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def _reachable_identity(channels: Sequence[str]) -> Any:
    """SQL: the message's person has an identity on one of `channels` not marked unreachable."""
    return exists().where(
        ChannelIdentity.person_id == OutboxMessage.person_id,
        ChannelIdentity.channel.in_(list(channels)),
        ChannelIdentity.unreachable_at.is_(None),
        ~ChannelIdentity.external_id.startswith("purged-"),
    )


async def claim_due(
    session: AsyncSession, now: datetime, fence: Fence, channels: Sequence[str], limit: int = 500
) -> list[Claimed]:
    """Claim due messages in order; a person whose earlier message waits for a retry gets nothing newer first.

    A message is claimed only if its person can be reached on one of the running `channels`, or on none at
    all (it is then recorded unreachable): a message for a channel that is not running waits for it, and so
    does a console person's, for that person's next shell.
    """
    earlier = aliased(OutboxMessage)
    waiting_before = exists().where(
        earlier.person_id == OutboxMessage.person_id,
        earlier.id < OutboxMessage.id,
        earlier.status.in_(OPEN),
        earlier.not_before > now,
    )
    deliverable = _reachable_identity(channels) | ~_reachable_identity(WAITING_CHANNELS)
    # A message that waits for the person's reply (only WhatsApp's notice went) is due once they wrote after it.
    replied = exists().where(
        ChannelIdentity.person_id == OutboxMessage.person_id,
        ChannelIdentity.last_inbound_at > OutboxMessage.not_before,
    )
    due = (
        (OutboxMessage.status == OutboxStatus.PENDING.value) & (OutboxMessage.not_before <= now) & ~waiting_before
    ) | ((OutboxMessage.status == OutboxStatus.AWAITING_REPLY.value) & replied)
    rows = (
        await session.scalars(
            select(OutboxMessage)
            .where(due, _not_expired(now), deliverable, holds(fence))
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
    ).all()
    if not rows:
        return []
    # Conditional on the status and the fence, so rows claimed by someone else in between are not taken.
    claimed = set(
        (
            await session.scalars(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id.in_([r.id for r in rows]),
                    OutboxMessage.status.in_([OutboxStatus.PENDING.value, OutboxStatus.AWAITING_REPLY.value]),
                    holds(fence),
                )
                .values(status=OutboxStatus.SENDING.value)
                .returning(OutboxMessage.id)
            )
        ).all()
    )
    rows = [r for r in rows if r.id in claimed]
    purged = [r.id for r in rows if not r.payload]
    if purged:  # the person was purged: nothing left to send
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.id.in_(purged)).values(status=OutboxStatus.FAILED.value)
        )
    return [Claimed(r.id, r.person_id, _envelope_of(r), r.attempts) for r in rows if r.payload]


async def take_for_console(session: AsyncSession, person_id: int, chat_id: str, now: datetime) -> list[Claimed]:
    """The due messages of a console person, marked sent now for `monev shell` to print after the commit.

    The shell holds no lease and never competes with the dispatcher: it takes only this person's `pending`
    messages, each by a compare-and-set (pending → sent, one delivery attempt), so two shells of one person
    never print one message twice and a message the dispatcher has claimed is left to it. Printing to the
    terminal that asked cannot fail, so sent means shown.
    """
    due = (
        await session.scalars(
            update(OutboxMessage)
            .where(
                OutboxMessage.person_id == person_id,
                OutboxMessage.status == OutboxStatus.PENDING.value,
                OutboxMessage.not_before <= now,
                _not_expired(now),
                OutboxMessage.payload.is_not(None),  # a purged person's rows have nothing left to show
            )
            .values(
                status=OutboxStatus.SENT.value,
                sent_at=now,
                channel=Channel.CONSOLE.value,
                chat_id=chat_id,
                attempts=OutboxMessage.attempts + 1,
            )
            .returning(OutboxMessage.id)
        )
    ).all()
    if not due:
        return []
    rows = (
        await session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(due)).order_by(OutboxMessage.id))
    ).all()
    for row in rows:
        session.add(
            DeliveryAttempt(
                message_id=row.id, at=now, channel=Channel.CONSOLE.value, chat_id=chat_id, outcome="sent", error=None
            )
        )
    return [Claimed(r.id, r.person_id, _envelope_of(r), r.attempts) for r in rows]


async def release(session: AsyncSession, message_ids: list[int], fence: Fence) -> None:
    """Claimed messages that were not attempted go back to pending (behind a message that must wait)."""
    if message_ids:
        await session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id.in_(message_ids),
                OutboxMessage.status == OutboxStatus.SENDING.value,
                holds(fence),
            )
            .values(status=OutboxStatus.PENDING.value)
        )


async def targets(
    session: AsyncSession, person_ids: list[int], channels: Sequence[str] = MESSAGING_CHANNELS
) -> dict[int, list[Identity]]:
    """Each person's reachable identities on `channels`, the most recently active first (Telegram wins a tie).

    The dispatcher takes the first whose channel can deliver the message's kind now.
    """
    rows = await session.execute(
        select(
            ChannelIdentity.person_id,
            ChannelIdentity.channel,
            ChannelIdentity.external_id,
            Person.display_name,
            ChannelIdentity.last_inbound_at,
        )
        .join(Person, Person.id == ChannelIdentity.person_id)
        .where(
            ChannelIdentity.person_id.in_(person_ids),
            ChannelIdentity.unreachable_at.is_(None),
            ChannelIdentity.channel.in_(list(channels)),
            ~ChannelIdentity.external_id.startswith("purged-"),
        )
        .order_by(
            ChannelIdentity.person_id,
            ChannelIdentity.last_inbound_at.desc().nulls_last(),
            (ChannelIdentity.channel != "telegram"),
            ChannelIdentity.id.desc(),
        )
    )
    candidates: dict[int, list[Identity]] = {}
    for person_id, channel, external_id, name, last_inbound_at in rows.all():
        candidates.setdefault(person_id, []).append(Identity(channel, external_id, person_id, name, last_inbound_at))
    return candidates


async def record_outcome(
    session: AsyncSession,
    message_id: int,
    status: OutboxStatus,
    *,
    fence: Fence,
    now: datetime,
    channel: str | None,
    chat_id: str | None,
    error: str | None = None,
    retry_in: timedelta | None = None,
    platform_message_id: str | None = None,
) -> bool:
    """Record one attempt (append-only) and the message's new status; a retry goes back to pending later.

    False, and nothing written, when the lease no longer shows `fence` or the message is no longer ours
    (a standby took over and released it).
    """
    values: dict[str, Any] = {"channel": channel, "chat_id": chat_id, "last_error": (error or None) and error[:500]}
    if retry_in is not None:
        values.update(status=OutboxStatus.PENDING.value, not_before=now + retry_in)
    else:
        values.update(status=status.value)
        if status in (OutboxStatus.SENT, OutboxStatus.AWAITING_REPLY):
            values["sent_at"] = now
        if status == OutboxStatus.AWAITING_REPLY:
            values["not_before"] = now  # a message the person writes after this wakes it (`claim_due`)
        if platform_message_id is not None:
            values.update(platform_message_id=platform_message_id, receipt="sent", receipt_at=now)
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == OutboxStatus.SENDING.value, holds(fence))
        .values(attempts=OutboxMessage.attempts + 1, **values)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    session.add(
        DeliveryAttempt(
            message_id=message_id,
            at=now,
            channel=channel,
            chat_id=chat_id,
            outcome="retry" if retry_in else status.value,
            error=(error or None) and error[:500],
            platform_message_id=platform_message_id,
        )
    )
    return True


async def awaits_reply(session: AsyncSession, person_id: int, since: datetime | None) -> bool:
    """Whether a message of this person already waits for their reply, its notice sent after they last wrote.

    Then another message that would need the notice waits with it, without a second notice (each is charged).
    """
    waiting = select(OutboxMessage.id).where(
        OutboxMessage.person_id == person_id, OutboxMessage.status == OutboxStatus.AWAITING_REPLY.value
    )
    if since is not None:
        waiting = waiting.where(OutboxMessage.not_before >= since)
    return await session.scalar(waiting.limit(1)) is not None


async def apply_receipt(session: AsyncSession, platform_message_id: str, status: str, at: datetime) -> bool:
    """A status webhook (sent, delivered, read, failed) on the outbox message it belongs to; False if none.

    Statuses may arrive late or twice: a receipt only moves forward (read is not undone by a late delivered).
    """
    if status not in RECEIPTS:
        return False
    row = (
        await session.execute(
            select(OutboxMessage.id, OutboxMessage.receipt).where(
                OutboxMessage.platform_message_id == platform_message_id
            )
        )
    ).first()
    if row is None:
        return False
    if row.receipt in RECEIPTS and RECEIPTS.index(row.receipt) >= RECEIPTS.index(status):
        return True
    await session.execute(update(OutboxMessage).where(OutboxMessage.id == row.id).values(receipt=status, receipt_at=at))
    return True


async def mark_unreachable(session: AsyncSession, channel: str, chat_id: str, now: datetime) -> None:
    """The person blocked the bot or the chat is gone: skip this identity until they write again."""
    await session.execute(
        update(ChannelIdentity)
        .where(ChannelIdentity.channel == channel, ChannelIdentity.external_id == chat_id)
        .values(unreachable_at=now)
    )


async def purge_payloads(session: AsyncSession, person_id: int) -> None:
    await session.execute(update(OutboxMessage).where(OutboxMessage.person_id == person_id).values(payload=None))


async def platform_file_id(session: AsyncSession, channel: str, sha256: str) -> str | None:
    return await session.scalar(
        select(PlatformFile.file_id).where(PlatformFile.channel == channel, PlatformFile.sha256 == sha256)
    )


async def remember_platform_file(session: AsyncSession, channel: str, sha256: str, file_id: str, now: datetime) -> None:
    if await platform_file_id(session, channel, sha256) is None:
        session.add(PlatformFile(channel=channel, sha256=sha256, file_id=file_id, created_at=now))


async def live_media_id(session: AsyncSession, sha256: str, now: datetime) -> str | None:
    """The WhatsApp media id of an uploaded file while it is still valid (ids expire 30 days after the upload)."""
    return await session.scalar(
        select(PlatformFile.file_id).where(
            PlatformFile.channel == Channel.WHATSAPP.value,
            PlatformFile.sha256 == sha256,
            PlatformFile.created_at > now - MEDIA_ID_LIFETIME,
        )
    )


async def remember_media_id(session: AsyncSession, sha256: str, media_id: str, now: datetime) -> None:
    """A fresh upload's media id replaces the expired (or refused) one: its 30 days start now."""
    await session.execute(
        delete(PlatformFile).where(PlatformFile.channel == Channel.WHATSAPP.value, PlatformFile.sha256 == sha256)
    )
    session.add(PlatformFile(channel=Channel.WHATSAPP.value, sha256=sha256, file_id=media_id, created_at=now))


async def broadcast_settled(session: AsyncSession, campaign_id: int) -> bool:
    """True once no invitation of the campaign is waiting or being sent."""
    waiting = await session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(
            OutboxMessage.campaign_id == campaign_id,
            OutboxMessage.kind.in_(INVITATION_KINDS),
            OutboxMessage.status.in_(OPEN),
        )
    )
    return not waiting
