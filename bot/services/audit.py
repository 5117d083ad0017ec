"""The audit log: who did what, as whom, when, on which object, from which chat message."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry, Person

EXPORT_COLUMNS = (
    "id",
    "at_utc",
    "actor",
    "role",
    "action",
    "object_type",
    "object_id",
    "channel",
    "chat_message_id",
    "details_json",
)


@dataclass(frozen=True)
class Acting:
    """The person behind an action, the role they acted in, and where the action came from."""

    person_id: int | None
    role: str | None
    channel: str | None = None
    chat_message_id: str | None = None


async def record(
    session: AsyncSession,
    acting: Acting,
    action: str,
    now: datetime,
    *,
    object_type: str | None = None,
    object_id: object = None,
    **details: Any,
) -> None:
    """Append one audit row in the caller's transaction (so it commits or rolls back with the action)."""
    session.add(
        AuditEntry(
            at=now,
            actor_person_id=acting.person_id,
            role=acting.role,
            action=action,
            object_type=object_type,
            object_id=None if object_id is None else str(object_id),
            channel=acting.channel,
            chat_message_id=acting.chat_message_id,
            details=json.dumps(details, ensure_ascii=False, sort_keys=True, default=str) if details else None,
        )
    )


def actor_label(person_id: int | None, display_name: str | None, purged: bool) -> str:
    """How an actor shows in exports: the name, or a pseudonym once the person was purged."""
    if person_id is None:
        return "(tidak terdaftar)"
    if purged or not display_name:
        return f"pengguna-{person_id}"
    return display_name


async def export_rows(session: AsyncSession) -> Iterator[list[str]]:
    """Every audit row as CSV cells (CONTRACT.md "Files"), names joined at export time."""
    rows = await session.execute(
        select(AuditEntry, Person.display_name, Person.purged_at)
        .outerjoin(Person, Person.id == AuditEntry.actor_person_id)
        .order_by(AuditEntry.id)
    )
    return (
        [
            str(entry.id),
            entry.at.astimezone(UTC).isoformat(),
            actor_label(entry.actor_person_id, name, purged_at is not None),
            entry.role or "",
            entry.action,
            entry.object_type or "",
            entry.object_id or "",
            entry.channel or "",
            entry.chat_message_id or "",
            entry.details or "{}",
        ]
        for entry, name, purged_at in rows.all()
    )
