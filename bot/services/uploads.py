"""Files received in chat. Until the intake issue files them to items, they are kept as unfiled uploads."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.database import dialect_insert
from storage.filestore import Blob
from storage.models import StoredFile, UnfiledUpload

MAX_NAME_CHARS = 200
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")


def clean_file_name(name: str | None, *, fallback: str) -> str:
    """A display name from an untrusted one: no path parts, no control characters, bounded length.

    Stored files are named by their hash, so a name never reaches the file system; this only keeps
    receipts, exports and logs readable and safe.
    """
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE.sub("_", base).strip().lstrip(".") or fallback
    if len(base) > MAX_NAME_CHARS:
        stem, dot, extension = base.rpartition(".")
        keep = extension if dot and len(extension) <= 10 else ""
        base = base[: MAX_NAME_CHARS - len(keep) - 1].rstrip() + ("." + keep if keep else "")
    return base


@dataclass(frozen=True)
class ReceivedFile:
    """What the receipt shows."""

    upload_id: int
    file_name: str
    size: int
    sha256: str


async def register_blob(session: AsyncSession, blob: Blob, now: datetime) -> None:
    """Name a blob that is already safely on disk (idempotent: the same content is one row)."""
    insert = dialect_insert(session)
    await session.execute(
        insert(StoredFile)
        .values(sha256=blob.sha256, size=blob.size, created_at=now)
        .on_conflict_do_nothing(index_elements=["sha256"])
    )


async def record_unfiled_upload(
    session: AsyncSession,
    *,
    blob: Blob,
    file_name: str,
    channel: str,
    sender_external_id: str,
    person_id: int | None,
    inbound_event_id: int | None,
    now: datetime,
) -> ReceivedFile:
    """Record a received file once per inbound event (a replayed update finds the existing row)."""
    if inbound_event_id is not None:
        existing = await session.scalar(select(UnfiledUpload).where(UnfiledUpload.inbound_event_id == inbound_event_id))
        if existing is not None:
            return ReceivedFile(existing.id, existing.file_name, existing.size, existing.sha256)
    await register_blob(session, blob, now)
    upload = UnfiledUpload(
        inbound_event_id=inbound_event_id,
        channel=channel,
        sender_external_id=sender_external_id,
        person_id=person_id,
        file_name=file_name,
        size=blob.size,
        sha256=blob.sha256,
        received_at=now,
    )
    session.add(upload)
    await session.flush()
    return ReceivedFile(upload.id, file_name, blob.size, blob.sha256)
