"""One-time actions behind buttons: the callback data carries only a random token.

The parameters (which OPD, which person) live in the database with the one person allowed to press, so
forged callback data can name nothing, and a second press finds the action used ("sudah diproses").
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import Button
from bot.errors import DomainError
from storage.models import PendingAction

PREFIX = "act"
DEFAULT_TTL = timedelta(days=7)


@dataclass(frozen=True)
class TakenAction:
    kind: str
    params: dict[str, Any]


async def action_button(
    session: AsyncSession,
    label: str,
    *,
    kind: str,
    person_id: int,
    now: datetime,
    ttl: timedelta = DEFAULT_TTL,
    **params: Any,
) -> Button:
    """A button that performs `kind` once, for `person_id` only."""
    token = secrets.token_urlsafe(12)
    session.add(
        PendingAction(
            token=token,
            kind=kind,
            person_id=person_id,
            params=json.dumps(params, sort_keys=True),
            created_at=now,
            expires_at=now + ttl,
        )
    )
    return Button(label, f"{PREFIX}:{token}")


async def take_action(session: AsyncSession, token: str, person_id: int | None, now: datetime) -> TakenAction:
    """Use an action once; refusals are DomainErrors that the dispatcher audits."""
    action = await session.get(PendingAction, token) if len(token) <= 32 else None
    if action is None:
        raise DomainError("umum/tombol_kedaluwarsa", audit_action="forged_button", token=token[:32])
    if action.person_id != person_id:
        raise DomainError("umum/tombol_bukan_untuk_anda", audit_action="forged_button", token=token, kind=action.kind)
    if action.used_at is not None:
        raise DomainError("umum/sudah_diproses")
    if action.expires_at <= now:
        raise DomainError("umum/tombol_kedaluwarsa")
    used = await session.execute(
        update(PendingAction).where(PendingAction.token == token, PendingAction.used_at.is_(None)).values(used_at=now)
    )
    if not used.rowcount:  # type: ignore[attr-defined]
        raise DomainError("umum/sudah_diproses")  # a double tap raced us
    return TakenAction(action.kind, json.loads(action.params))


# An expired token is kept a while, so a late press of its button still answers "kedaluwarsa" (and is not
# taken for forged callback data, which an unknown token is).
PURGE_AFTER_EXPIRY = timedelta(days=30)


async def purge_expired_actions(session: AsyncSession, now: datetime) -> int:
    """Delete the tokens that expired more than PURGE_AFTER_EXPIRY ago, used or not (the daily purge job)."""
    result = await session.execute(delete(PendingAction).where(PendingAction.expires_at < now - PURGE_AFTER_EXPIRY))
    return int(result.rowcount)  # type: ignore[attr-defined]
