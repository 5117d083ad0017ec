"""The database lease that makes one instance the only sender (DESIGN §4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import case, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Lease

MAIN_LEASE = "main"
_LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


async def hold_lease(session: AsyncSession, holder: str, now: datetime, timeout: timedelta) -> bool:
    """Renew our lease, or take it over when its holder has not renewed within `timeout`. True if we hold it."""
    taken = await session.execute(
        update(Lease)
        .where(Lease.name == MAIN_LEASE, or_(Lease.holder == holder, Lease.renewed_at < now - timeout))
        .values(
            holder=holder,
            renewed_at=now,
            acquired_at=case((Lease.holder == holder, Lease.acquired_at), else_=now),
        )
        .returning(Lease.holder)
    )
    if taken.first() is not None:
        return True
    if await session.scalar(select(Lease.name).where(Lease.name == MAIN_LEASE)) is not None:
        return False
    try:
        async with session.begin_nested():
            session.add(Lease(name=MAIN_LEASE, holder=holder, acquired_at=now, renewed_at=now))
    except IntegrityError:
        return False  # another instance created it a moment ago
    return True


async def lease_holder(session: AsyncSession) -> str | None:
    return await session.scalar(select(Lease.holder).where(Lease.name == MAIN_LEASE))


async def release_lease(session: AsyncSession, holder: str) -> None:
    """Give the lease up on a clean shutdown so a standby can take over at once."""
    await session.execute(
        update(Lease).where(Lease.name == MAIN_LEASE, Lease.holder == holder).values(renewed_at=_LONG_AGO)
    )
