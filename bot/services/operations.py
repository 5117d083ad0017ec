"""What an operator asks of a running installation: are the stored files intact (`monev check`), and how is the bot
doing (`monev status`, `/healthz`)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, literal, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.enums import InboundStatus
from bot.services import bot_state, uploads
from bot.services.lease import MAIN_LEASE
from storage.database import Database
from storage.filestore import ORPHAN_MIN_AGE_SECONDS, FileStore
from storage.models import (
    Base,
    Campaign,
    ChannelIdentity,
    InboundEvent,
    Lease,
    Opd,
    OutboxMessage,
    Person,
    StoredFile,
    SubmissionVersion,
)

# bot_state: when the reminder tick last ran (written by the job, read by status and /healthz).
REMINDER_TICK_KEY = "reminder_tick_at"
# Rows are read in pages by key, so neither the database nor this process holds all of them at once.
_PAGE = 500


@dataclass(frozen=True)
class FileProblem:
    sha256: str
    problem: str  # "missing", "size" or "sha256" (the content is not what its name says)


@dataclass(frozen=True)
class FileCheck:
    """Every `stored_file` row against its blob, and the blobs no row names."""

    checked: int
    problems: tuple[FileProblem, ...]
    orphans: tuple[str, ...]  # older than an hour: no upload in progress will name them
    recent_orphans: int  # younger: possibly an upload whose row is about to commit, so not a fault

    @property
    def clean(self) -> bool:
        return not self.problems and not self.orphans


async def check_files(db: Database, store: FileStore, *, now: float | None = None) -> FileCheck:
    """Hash every stored file (streamed, constant memory) and list the store's files no row names.

    `now` is a POSIX time: orphans' ages are the file system's mtimes.
    """
    checked, problems, after = 0, [], ""
    while True:
        async with db.read() as session:
            page = (
                await session.execute(
                    select(StoredFile.sha256, StoredFile.size)
                    .where(StoredFile.sha256 > after)
                    .order_by(StoredFile.sha256)
                    .limit(_PAGE)
                )
            ).all()
        for sha256, size in page:
            problem = await asyncio.to_thread(store.verify, sha256, size)
            if problem is not None:
                problems.append(FileProblem(sha256, problem))
        checked += len(page)
        if len(page) < _PAGE:
            break
        after = page[-1][0]
    async with db.read() as session:
        referenced = await uploads.referenced_files(session)
    moment = time.time() if now is None else now
    orphans, recent = [], 0
    for blob in store.blobs():
        if blob.name in referenced:
            continue
        try:
            young = moment - blob.stat().st_mtime < ORPHAN_MIN_AGE_SECONDS
        except FileNotFoundError:
            continue
        if young:
            recent += 1
        else:
            orphans.append(blob.name)
    return FileCheck(checked, tuple(problems), tuple(sorted(orphans)), recent)


@dataclass(frozen=True)
class LeaseView:
    holder: str
    renewed_at: datetime
    epoch: int


@dataclass(frozen=True)
class OperationsStatus:
    """The figures `monev status` prints and `/healthz` returns."""

    lease: LeaseView | None
    journal_backlog: int
    journal_failed: int
    outbox: dict[str, int]  # by state; the final states (sent, …) too, so the totals add up
    last_reminder_tick: datetime | None
    last_contact: dict[str, datetime]  # per channel: the latest message any person sent
    campaigns: dict[str, int]  # by state
    files: int
    file_bytes: int

    @property
    def outbox_backlog(self) -> int:
        return self.outbox.get("pending", 0) + self.outbox.get("sending", 0)


async def status(session: AsyncSession) -> OperationsStatus:
    """One read of every figure: seven statements whatever the size of the tables."""
    lease_row = (
        await session.execute(select(Lease.holder, Lease.renewed_at, Lease.epoch).where(Lease.name == MAIN_LEASE))
    ).first()
    journal = await _by_state(session, InboundEvent.status)
    outbox = await _by_state(session, OutboxMessage.status)
    tick = await bot_state.recall(session, REMINDER_TICK_KEY)
    contacts = (
        await session.execute(
            select(ChannelIdentity.channel, func.max(ChannelIdentity.last_inbound_at))
            .where(ChannelIdentity.last_inbound_at.is_not(None))
            .group_by(ChannelIdentity.channel)
        )
    ).all()
    campaigns = await _by_state(session, Campaign.state)
    files, file_bytes = (await session.execute(select(func.count(), func.coalesce(func.sum(StoredFile.size), 0)))).one()
    return OperationsStatus(
        lease=LeaseView(lease_row[0], lease_row[1], lease_row[2]) if lease_row else None,
        journal_backlog=journal.get(InboundStatus.PENDING.value, 0) + journal.get(InboundStatus.DONE.value, 0),
        journal_failed=journal.get(InboundStatus.FAILED.value, 0),
        outbox=outbox,
        last_reminder_tick=datetime.fromisoformat(tick) if tick else None,
        last_contact={str(channel): moment for channel, moment in contacts if moment is not None},
        campaigns=campaigns,
        files=int(files),
        file_bytes=int(file_bytes),
    )


async def _by_state(session: AsyncSession, column: Any) -> dict[str, int]:
    rows = await session.execute(select(column, func.count()).group_by(column))
    return {str(state): int(count) for state, count in rows.all()}


async def has_rows(session: AsyncSession) -> str | None:
    """The first table of the model that holds a row (a restore refuses to overwrite it), or None when empty."""
    for table in Base.metadata.sorted_tables:
        if await session.scalar(select(literal(1)).select_from(table).limit(1)) is not None:
            return table.name
    return None


async def snapshot_figures(session: AsyncSession) -> tuple[str | None, dict[str, int], set[str]]:
    """The migration head, a few row counts and the stored files named, for a backup (PostgreSQL: read right after
    the dump, so a superset of what the dump names: its files are in the store too)."""
    head = (await session.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    counts = {}
    for table in (Person, Opd, Campaign, SubmissionVersion, StoredFile):
        counts[str(table.__tablename__)] = int(await session.scalar(select(func.count()).select_from(table)) or 0)
    named = set((await session.scalars(select(StoredFile.sha256))).all())
    return head, counts, named
