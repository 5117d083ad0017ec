"""The inbound journal: record raw updates before acknowledging them, and track them until replied."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, Table, and_, bindparam, case, cast, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.enums import InboundStatus
from storage.database import dialect_insert
from storage.models import InboundEvent

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
PAYLOAD_RETENTION = timedelta(days=30)
# Telegram picks a random next update_id after a week without updates, so an id can come back: only a row of the
# last seven days makes an update a redelivery (Telegram redelivers for at most 24 hours).
REDELIVERY_WINDOW = timedelta(days=7)


# The statements every update runs, built once (building one costs more CPU than SQLite takes to run it), on the
# table rather than the mapped class: Core DML skips the ORM's bulk-persistence layer.
_journal: Table = InboundEvent.__table__  # type: ignore[assignment]
_MARK_DONE = (
    update(_journal)
    .where(_journal.c.id == bindparam("row_id"), _journal.c.status == InboundStatus.PENDING.value)
    .values(status=InboundStatus.DONE.value, replies=bindparam("stored_replies"), handled_at=bindparam("done_at"))
)
_INSERTS: dict[str, Any] = {}


def _insert_statement(session: AsyncSession) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect not in _INSERTS:
        _INSERTS[dialect] = (
            dialect_insert(session)(_journal)
            .on_conflict_do_nothing(index_elements=["channel", "update_key"])
            .returning(_journal.c.id)
        )
    return _INSERTS[dialect]


@dataclass(frozen=True)
class JournalRow:
    """What a worker needs to (re)process one journaled event."""

    id: int
    channel: str
    update_key: str
    chat_key: str | None
    status: InboundStatus
    payload: dict[str, Any] | None
    replies: list[dict[str, Any]] | None
    attempts: int
    received_at: datetime
    replied: bool

    @property
    def awaits_reply(self) -> bool:
        return self.status in (InboundStatus.DONE, InboundStatus.FAILED) and not self.replied


@dataclass(frozen=True)
class JournalHealth:
    backlog: int
    failed: int


async def record_inbound(
    session: AsyncSession,
    channel: str,
    update_key: str,
    chat_key: str | None,
    payload: dict[str, Any],
    now: datetime,
) -> int | None:
    """Journal one raw update; returns its row id, or None when it was already journaled (a redelivery)."""
    values = {
        "channel": channel,
        "update_key": update_key,
        "chat_key": chat_key,
        "payload": json.dumps(payload, ensure_ascii=False),
        "received_at": now,
        "status": InboundStatus.PENDING.value,
        "attempts": 0,
    }
    statement = _insert_statement(session)
    row_id = await session.scalar(statement, values)
    if row_id is None and await _retire_old_key(session, channel, update_key, now):
        row_id = await session.scalar(statement, values)  # the key was an earlier update's, a week or more ago
    if row_id is None:
        logger.info("%s update %s is already journaled: a redelivery, dropped", channel, update_key)
    return row_id


async def _retire_old_key(session: AsyncSession, channel: str, update_key: str, now: datetime) -> bool:
    """An older row under this key is another update: it keeps its row, under the key plus `~<its id>`."""
    retired = await session.execute(
        update(InboundEvent)
        .where(
            InboundEvent.channel == channel,
            InboundEvent.update_key == update_key,
            InboundEvent.received_at < now - REDELIVERY_WINDOW,
        )
        .values(update_key=InboundEvent.update_key + "~" + cast(InboundEvent.id, String))
    )
    return bool(retired.rowcount)  # type: ignore[attr-defined]


async def load_row_by_id(session: AsyncSession, row_id: int) -> JournalRow | None:
    row = await session.get(InboundEvent, row_id)
    return _as_row(row) if row else None


async def earlier_rows(
    session: AsyncSession, channel: str, chat_key: str, before_id: int, *, limit: int = 20
) -> list[JournalRow]:
    """The chat's rows journaled just before `before_id`, latest first (WhatsApp groups media into albums by them)."""
    rows = await session.scalars(
        select(InboundEvent)
        .where(InboundEvent.channel == channel, InboundEvent.chat_key == chat_key, InboundEvent.id < before_id)
        .order_by(InboundEvent.id.desc())
        .limit(limit)
    )
    return [_as_row(row) for row in rows.all()]


async def rows_to_resume(
    session: AsyncSession, channel: str, *, after_id: int = 0, only_pending: bool = False, limit: int = 500
) -> list[JournalRow]:
    """Unfinished (pending) and unreplied (done or failed, reply not sent) rows in journal order."""
    unfinished = InboundEvent.status == InboundStatus.PENDING.value
    unreplied = and_(
        InboundEvent.status.in_([InboundStatus.DONE.value, InboundStatus.FAILED.value]),
        InboundEvent.replied_at.is_(None),
    )
    rows = await session.scalars(
        select(InboundEvent)
        .where(
            InboundEvent.channel == channel,
            unfinished if only_pending else or_(unfinished, unreplied),
            InboundEvent.id > after_id,
        )
        .order_by(InboundEvent.id)
        .limit(limit)
    )
    return [_as_row(r) for r in rows]


async def mark_done(session: AsyncSession, row_id: int, replies: Sequence[dict[str, Any]], now: datetime) -> bool:
    """Record the rendered replies in the handler's own transaction; False if another worker got there first."""
    parameters = {"row_id": row_id, "stored_replies": json.dumps(list(replies)), "done_at": now}
    result = await session.execute(_MARK_DONE, parameters)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def mark_replied(session: AsyncSession, row_id: int, now: datetime, error: str | None = None) -> None:
    """The reply went out (or cannot be delivered, with the reason); a failed row stays failed."""
    values: dict[str, Any] = {"replied_at": now}
    if error is not None:
        values["last_error"] = error[:500]
    await session.execute(update(InboundEvent).where(InboundEvent.id == row_id).values(**values))
    await session.execute(
        update(InboundEvent)
        .where(InboundEvent.id == row_id, InboundEvent.status == InboundStatus.DONE.value)
        .values(status=InboundStatus.REPLIED.value)
    )


async def mark_replied_many(session: AsyncSession, marks: dict[int, str | None], now: datetime) -> None:
    """`mark_replied` for many rows in one go (a busy moment's replies): one statement, plus one per error."""
    for row_id, error in marks.items():
        if error is not None:
            await session.execute(update(InboundEvent).where(InboundEvent.id == row_id).values(last_error=error[:500]))
    done = InboundEvent.status == InboundStatus.DONE.value
    await session.execute(
        update(InboundEvent)
        .where(InboundEvent.id.in_(list(marks)))
        .values(replied_at=now, status=case((done, InboundStatus.REPLIED.value), else_=InboundEvent.status))
    )


def new_row(
    row_id: int, channel: str, update_key: str, chat_key: str | None, payload: dict[str, Any], now: datetime
) -> JournalRow:
    """The row `record_inbound` just wrote, as a worker gets it (without reading it back)."""
    return JournalRow(row_id, channel, update_key, chat_key, InboundStatus.PENDING, payload, None, 0, now, False)


async def record_failure(session: AsyncSession, row_id: int, error: str, now: datetime) -> int:
    """Count a failed attempt; returns the attempts so far. The caller decides when to give up."""
    row = await session.get_one(InboundEvent, row_id)
    row.attempts += 1
    row.last_error = error[:500]
    return row.attempts


async def mark_failed(
    session: AsyncSession, row_id: int, replies: Sequence[dict[str, Any]], now: datetime, error: str | None = None
) -> None:
    """Give up on a row after its attempts (at once if it cannot be parsed); the apology in `replies` is still sent."""
    values: dict[str, Any] = {
        "status": InboundStatus.FAILED.value,
        "replies": json.dumps(list(replies)),
        "handled_at": now,
    }
    if error is not None:
        values["last_error"] = error[:500]
    await session.execute(update(InboundEvent).where(InboundEvent.id == row_id).values(**values))


async def give_up_reply(session: AsyncSession, row_id: int, now: datetime) -> None:
    """Stop sending a reply whose attempts all ended without a readable answer: failed, and not sent again."""
    await session.execute(
        update(InboundEvent).where(InboundEvent.id == row_id).values(status=InboundStatus.FAILED.value, replied_at=now)
    )


async def purge_old_payloads(session: AsyncSession, now: datetime) -> int:
    """Null the raw payloads of finished rows older than 30 days (privacy: UU 27/2022)."""
    result = await session.execute(
        update(InboundEvent)
        .where(
            InboundEvent.status.in_([InboundStatus.REPLIED.value, InboundStatus.FAILED.value]),
            InboundEvent.received_at < now - PAYLOAD_RETENTION,
            InboundEvent.payload.is_not(None),
        )
        .values(payload=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def health(session: AsyncSession) -> JournalHealth:
    rows = await session.execute(select(InboundEvent.status, func.count()).group_by(InboundEvent.status))
    counts: dict[str, int] = {status: count for status, count in rows.all()}
    backlog = counts.get(InboundStatus.PENDING.value, 0) + counts.get(InboundStatus.DONE.value, 0)
    return JournalHealth(backlog=backlog, failed=counts.get(InboundStatus.FAILED.value, 0))


def _as_row(row: InboundEvent) -> JournalRow:
    return JournalRow(
        id=row.id,
        channel=row.channel,
        update_key=row.update_key,
        chat_key=row.chat_key,
        status=InboundStatus(row.status),
        payload=json.loads(row.payload) if row.payload else None,
        replies=json.loads(row.replies) if row.replies else None,
        attempts=row.attempts,
        received_at=row.received_at,
        replied=row.replied_at is not None,
    )
