"""Files received in chat. Until the intake issue files them to items, they are kept as unfiled uploads."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, union
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import DomainError
from bot.services.filetypes import REASON_UNKNOWN, sniff
from bot.services.safe_text import without_invisible
from storage.database import dialect_insert
from storage.filestore import Blob, FileStore, Staged
from storage.models import Base, StoredFile, UnfiledUpload

MAX_NAME_CHARS = 200
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")
_TRAILING = re.compile(r"[\s.]+$")


def clean_file_name(name: str | None, *, fallback: str) -> str:
    """A display name from an untrusted one: no path parts, no control, bidi or zero-width characters, bounded.

    Stored files are named by their hash, so a name never reaches the file system; this only keeps
    receipts, exports and logs readable and safe.
    """
    base = without_invisible(name or "").replace("\\", "/").rsplit("/", 1)[-1]
    # Windows drops trailing dots and spaces when saving, so `laporan.exe.` would become a program: drop them here.
    base = _TRAILING.sub("", _UNSAFE.sub("_", base)).strip().lstrip(".") or fallback
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


def admit_checked(files: FileStore, staged: Staged, name: str, *, pdf_only: bool = False) -> Blob:
    """Judge a staged upload by its content and name: admit it into the store, or delete it and raise the refusal.

    Refused content never enters the store; only a file whose row is about to be written does.
    """
    try:
        verdict = sniff(staged.path, name)
        if pdf_only and verdict.kind != "pdf":
            raise DomainError("kampanye/bukan_pdf", nama=name)
        if not verdict.accepted:
            raise DomainError(verdict.reason or REASON_UNKNOWN, name=name, **verdict.detail)
        return files.admit(staged)
    finally:
        files.discard(staged)  # a no-op once admitted


async def referenced_files(session: AsyncSession) -> set[str]:
    """Every store file some row names: `stored_file` and every column that refers to it (read from the models)."""
    columns = [StoredFile.__table__.c.sha256]
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if any(key.target_fullname == "stored_file.sha256" for key in column.foreign_keys):
                columns.append(column)
    query = union(*(select(column.label("sha256")).where(column.is_not(None)) for column in columns))
    return set((await session.scalars(query)).all())
