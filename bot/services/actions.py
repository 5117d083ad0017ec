"""One-time actions behind buttons: the callback data carries only a random token.

The parameters (which OPD, which person) live in the database with the one person allowed to press, so
forged callback data can name nothing, and a second press finds the action used ("sudah diproses"). Each kind
needs one of a few roles (declared where its handler is registered): they are re-checked at the press, in its
transaction, so a button outlives no revocation. Revoking a person also cancels their unused buttons outright.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation.core import Actor, Button
from bot.domain.enums import Role
from bot.errors import DomainError
from bot.services import identity
from storage.models import PendingAction

PREFIX = "act"
DEFAULT_TTL = timedelta(days=7)


@dataclass(frozen=True)
class TakenAction:
    kind: str
    params: dict[str, Any]
    actor: Actor  # the presser with their assignments as they are now


async def action_button(
    session: AsyncSession,
    label: str,
    *,
    kind: str,
    person_id: int,
    now: datetime,
    ttl: timedelta = DEFAULT_TTL,
    token: str | None = None,
    **params: Any,
) -> Button:
    """A button that performs `kind` once, for `person_id` only (`token`: one made beforehand by `new_token`)."""
    token = token or new_token()
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


def new_token() -> str:
    """A fresh action token, for buttons that must name each other (one decision among several buttons)."""
    return secrets.token_urlsafe(12)


def token_of(button: Button) -> str:
    """The token an action button carries."""
    return button.payload.removeprefix(f"{PREFIX}:")


async def expire(session: AsyncSession, tokens: Sequence[str], now: datetime) -> int:
    """The other buttons of one decision: unused, they answer "sudah diproses" from now on."""
    if not tokens:
        return 0
    result = await session.execute(
        update(PendingAction)
        .where(PendingAction.token.in_(list(tokens)), PendingAction.used_at.is_(None))
        .values(used_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def take_action(
    session: AsyncSession,
    token: str,
    person_id: int | None,
    now: datetime,
    roles_by_kind: Mapping[str, Collection[Role]],
) -> TakenAction:
    """Use an action once, if its person still holds a role its kind needs; refusals are audited DomainErrors."""
    action = await session.get(PendingAction, token) if len(token) <= 32 else None
    if action is None:
        raise DomainError("umum/tombol_kedaluwarsa", audit_action="forged_button", token=token[:32])
    if person_id is None or action.person_id != person_id:
        raise DomainError("umum/tombol_bukan_untuk_anda", audit_action="forged_button", token=token, kind=action.kind)
    if action.kind not in roles_by_kind:
        raise DomainError("umum/tombol_kedaluwarsa")  # a kind this version of the bot no longer has
    actor = await identity.authorize(session, person_id, roles_by_kind[action.kind])
    if action.used_at is not None:
        raise DomainError("umum/sudah_diproses")
    if action.expires_at <= now:
        raise DomainError("umum/tombol_kedaluwarsa")
    used = await session.execute(
        update(PendingAction)
        .where(PendingAction.token == token, PendingAction.used_at.is_(None), PendingAction.expires_at > now)
        .values(used_at=now)
    )
    if not used.rowcount:  # type: ignore[attr-defined]
        raise DomainError("umum/sudah_diproses")  # a double tap (or a revocation) raced us
    return TakenAction(action.kind, json.loads(action.params), actor)


async def cancel_for_person(session: AsyncSession, person_id: int, now: datetime) -> int:
    """Revocation: every unused button of the person expires now; returns how many."""
    result = await session.execute(
        update(PendingAction)
        .where(PendingAction.person_id == person_id, PendingAction.used_at.is_(None), PendingAction.expires_at > now)
        .values(expires_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# An expired token is kept a while, so a late press of its button still answers "kedaluwarsa" (and is not
# taken for forged callback data, which an unknown token is).
PURGE_AFTER_EXPIRY = timedelta(days=30)


async def purge_expired_actions(session: AsyncSession, now: datetime) -> int:
    """Delete the tokens that expired more than PURGE_AFTER_EXPIRY ago, used or not (the daily purge job)."""
    result = await session.execute(delete(PendingAction).where(PendingAction.expires_at < now - PURGE_AFTER_EXPIRY))
    return int(result.rowcount)  # type: ignore[attr-defined]
