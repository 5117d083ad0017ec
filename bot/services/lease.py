"""The database lease that makes one instance the only sender (DESIGN §4).

Expiry is judged by the database's clock, never by the instances' own: two machines whose clocks disagree
would otherwise each believe the other's lease expired. Every takeover bumps the lease's epoch; a sender
carries the `Fence` (holder, epoch) it was granted, and its outbox writes are conditional on the lease still
showing that fence, so a holder that stalled past the timeout cannot claim or record anything once a standby
took over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, exists, func, literal_column, select, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.database import dialect_insert
from storage.models import Lease
from storage.types import UTCDateTime

MAIN_LEASE = "main"
_LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Fence:
    """The lease as one holder was granted it: its writes count only while the lease still shows this."""

    holder: str
    epoch: int


@dataclass(frozen=True)
class Grant:
    """We hold the lease: under this fence, with our clock this far ahead of the database's."""

    fence: Fence
    clock_skew: timedelta


def _database_now(session: AsyncSession) -> ColumnElement[datetime]:
    """The database server's current time, in the form the UTCDateTime column stores."""
    expression: ColumnElement[Any]
    if session.get_bind().dialect.name == "sqlite":
        # UTC text with microseconds, the very format SQLAlchemy writes for a DateTime on SQLite.
        expression = literal_column("(strftime('%Y-%m-%d %H:%M:%f', 'now') || '000')")
    else:
        expression = func.clock_timestamp()  # not now(): that is the transaction's start
    return type_coerce(expression, UTCDateTime())


def _seconds_since_renewal(session: AsyncSession) -> ColumnElement[Any]:
    """How long ago the lease row was renewed, by the database's clock."""
    if session.get_bind().dialect.name == "sqlite":
        return (func.julianday("now") - func.julianday(Lease.renewed_at)) * 86400.0
    return func.extract("epoch", func.clock_timestamp() - Lease.renewed_at)


async def hold_lease(session: AsyncSession, holder: str, now: datetime, timeout: timedelta) -> Grant | None:
    """Renew our lease, or take it over when its holder has not renewed within `timeout`; None if another holds it.

    One statement decides, so two standbys racing for an expired lease cannot both win. `now` is only this
    instance's own clock, compared with the database's to report skew; it decides nothing.
    """
    db_now = _database_now(session)
    ours = Lease.holder == holder
    insert = dialect_insert(session)
    statement = (
        insert(Lease)
        .values(name=MAIN_LEASE, holder=holder, acquired_at=db_now, renewed_at=db_now, epoch=1)
        .on_conflict_do_update(
            index_elements=[Lease.name],
            set_={
                "holder": holder,
                "renewed_at": db_now,
                "acquired_at": case((ours, Lease.acquired_at), else_=db_now),
                "epoch": case((ours, Lease.epoch), else_=Lease.epoch + 1),
            },
            where=ours | (_seconds_since_renewal(session) > timeout.total_seconds()),
        )
        .returning(Lease.epoch, Lease.renewed_at)
    )
    granted = (await session.execute(statement)).first()
    if granted is None:
        return None
    epoch, renewed_at = granted
    return Grant(Fence(holder, epoch), now - renewed_at)


def holds(fence: Fence) -> ColumnElement[bool]:
    """SQL: the lease still shows `fence` (no takeover since it was granted). Sender writes are conditional on it."""
    return exists().where(Lease.name == MAIN_LEASE, Lease.holder == fence.holder, Lease.epoch == fence.epoch)


async def still_holds(session: AsyncSession, fence: Fence) -> bool:
    return bool(await session.scalar(select(holds(fence))))


async def lease_holder(session: AsyncSession) -> str | None:
    return await session.scalar(select(Lease.holder).where(Lease.name == MAIN_LEASE))


async def release_lease(session: AsyncSession, holder: str) -> None:
    """Give the lease up on a clean shutdown so a standby can take over at once."""
    await session.execute(
        update(Lease).where(Lease.name == MAIN_LEASE, Lease.holder == holder).values(renewed_at=_LONG_AGO)
    )
