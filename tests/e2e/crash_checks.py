"""What must hold after `monev run` was killed and restarted: the crash suite's and the two-instance test's checks.

Read from the database rows, the file store directory and the fake Bot API's record of what reached it. The file
check is the one `monev check` makes (every row's file present and hashing to its name, every stored file named by
a row); it is written here from the rows and the store directory because the command is not on main yet.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bot.domain.enums import BatchStatus, InboundStatus, OutboxStatus
from bot.services import uploads
from storage.database import Database
from storage.filestore import FileStore
from storage.models import InboundEvent, OutboxMessage, UploadBatch
from tests.fake_telegram.server import FakeBotAPI

FINAL_OUTBOX = (OutboxStatus.SENT.value,)
WAITING_BATCH = (BatchStatus.COLLECTING.value,)


@dataclass(frozen=True)
class StoreReport:
    missing: list[str]  # a row names it, the store has no such file (or its bytes hash to something else)
    orphans: list[str]  # a stored file no row names


async def store_report(db: Database, files_dir: Path) -> StoreReport:
    """Rows against files, both ways, by the store's own layout and the project's list of referring columns."""
    store = FileStore(files_dir)
    async with db.read() as session:
        referenced = await uploads.referenced_files(session)
    missing = [
        sha
        for sha in sorted(referenced)
        if not store.exists(sha) or hashlib.sha256(store.path_for(sha).read_bytes()).hexdigest() != sha
    ]
    on_disk = {p.name for p in files_dir.glob("[0-9a-f][0-9a-f]/[0-9a-f][0-9a-f]/*") if p.is_file()}
    return StoreReport(missing, sorted(on_disk - referenced))


async def settled(db: Database, fake: FakeBotAPI, timeout: float = 90) -> None:
    """Until the restarted bot has nothing left: every update fetched, every row replied, outbox and albums done."""
    quiet = 0
    left: dict[str, int] = {}
    try:
        async with asyncio.timeout(timeout):
            while quiet < 3:  # three quiet looks in a row: a batch filed a moment ago queues its receipt in between
                await asyncio.sleep(0.2)
                left = await unfinished(db)
                quiet = quiet + 1 if not fake.pending_updates() and not left else 0
    except TimeoutError:
        raise AssertionError(
            f"not settled in {timeout} s: {left}, {fake.pending_updates()} updates undelivered"
        ) from None


async def unfinished(db: Database) -> dict[str, int]:
    """Counts of what is still to do: journal rows not replied, outbox rows not final, albums still collecting."""
    async with db.read() as session:
        journal = await session.scalar(
            select(func.count())
            .select_from(InboundEvent)
            .where((InboundEvent.status != InboundStatus.REPLIED.value) & (InboundEvent.status != "failed"))
        )
        outbox = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.status.in_([OutboxStatus.PENDING.value, OutboxStatus.SENDING.value]))
        )
        batches = await session.scalar(
            select(func.count()).select_from(UploadBatch).where(UploadBatch.status.in_(WAITING_BATCH))
        )
    left = {"journal": journal or 0, "outbox": outbox or 0, "batches": batches or 0}
    return {k: v for k, v in left.items() if v}


async def unanswered(db: Database, injected: list[dict[str, Any]]) -> list[int]:
    """Injected update ids that are not in the journal as replied (lost, or never finished)."""
    async with db.read() as session:
        rows = (
            await session.execute(
                select(InboundEvent.update_key, InboundEvent.status).where(InboundEvent.channel == "telegram")
            )
        ).all()
    status = {key: state for key, state in rows}
    return [u["update_id"] for u in injected if status.get(str(u["update_id"])) != InboundStatus.REPLIED.value]


async def outbox_not_delivered(db: Database) -> dict[str, int]:
    async with db.read() as session:
        rows = (
            await session.execute(
                select(OutboxMessage.status, func.count())
                .where(OutboxMessage.status.not_in(FINAL_OUTBOX))
                .group_by(OutboxMessage.status)
            )
        ).all()
    return {status: count for status, count in rows}


def _body(message: dict[str, Any]) -> str:
    document = message.get("document") or {}
    return str(message.get("text") or message.get("caption") or document.get("file_name") or "")


def sent_twice(fake: FakeBotAPI) -> dict[int, Counter[str]]:
    """Per chat, the messages (text, caption or file name) that reached the fake more than once, and how often."""
    per_chat: dict[int, Counter[str]] = {}
    for message in fake.sent_messages():
        per_chat.setdefault(message["chat"]["id"], Counter())[_body(message)] += 1
    return {
        chat: Counter({body: n for body, n in counts.items() if n > 1})
        for chat, counts in per_chat.items()
        if any(n > 1 for n in counts.values())
    }


def outside_the_window(duplicates: dict[int, Counter[str]], kills: int = 1) -> dict[int, Counter[str]]:
    """Duplicates beyond the documented window: per chat at most one extra copy per kill (the message in flight)."""
    return {chat: counts for chat, counts in duplicates.items() if sum(n - 1 for n in counts.values()) > kills}
