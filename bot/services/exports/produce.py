"""Producing an export for the chat and the CLI: read, close the read unit, build in a thread, then deliver.

The read is one read-only unit; the file is built after it closed (no transaction, and no write lock, is held
while openpyxl or zipfile work) and off the event loop. For the chat, a file under the channel's sending limit
goes into the file store, to be sent as a document through the outbox; a larger one stays on the server, in
`<data dir>/ekspor/`, and the person is told where.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.enums import Channel
from bot.services import audit
from bot.services.audit import Acting
from bot.services.exports.data import ExportData, ExportRows, assemble, read_export
from bot.services.exports.final import FinalDocuments, final_files, read_final
from bot.services.exports.package import package_name, recap_name, write_package
from bot.services.submissions import COLLECTING, VIEWABLE
from bot.services.uploads import register_blob
from bot.settings import Settings
from storage.database import Database
from storage.filestore import CHUNK_SIZE, Blob, FileStore, Staged
from storage.models import Campaign

RECAP, PACKAGE = "rekap", "paket"
MB = 1024 * 1024
# What a bot may send: Telegram's Bot API takes uploads up to 50 MB (2,000 MB from a local Bot API server),
# WhatsApp's Cloud API documents up to 100 MB; the console prints where the file is.
SEND_LIMITS = {Channel.TELEGRAM.value: 50 * MB, Channel.WHATSAPP.value: 100 * MB}
LOCAL_BOT_API_LIMIT = 2000 * MB
EXPORT_DIR = "ekspor"


@dataclass(frozen=True)
class Built:
    """An export written to disk."""

    kind: str  # RECAP or PACKAGE
    campaign_id: int
    title: str
    now: datetime
    opds: int
    files: int  # file rows of the workbook, or evidence entries of the package (both layouts)
    evidence: int  # (OPD, item) pairs with an accepted version (the package's content)
    size: int  # bytes


@dataclass(frozen=True)
class ChatExport:
    """An export for a chat: a stored document to send, or (too large for the channel) its place on the server."""

    built: Built
    name: str
    blob: Blob | None
    server_path: Path | None
    limit: int | None


@dataclass(frozen=True)
class CampaignChoice:
    campaign_id: int
    title: str


async def exportable_campaigns(session: AsyncSession) -> list[CampaignChoice]:
    """What `/ekspor` without `#ID` may mean: the one collecting campaign, else every opened one, newest first."""
    rows = (
        await session.execute(
            select(Campaign.id, Campaign.title, Campaign.state)
            .where(Campaign.state.in_(VIEWABLE))
            .order_by(Campaign.id.desc())
        )
    ).all()
    collecting = [CampaignChoice(i, t) for i, t, state in rows if state in COLLECTING]
    return collecting if len(collecting) == 1 else [CampaignChoice(i, t) for i, t, _ in rows]


def send_limit(channel: str, settings: Settings) -> int | None:
    """The largest document the bot may send on `channel` (None: no limit, the console)."""
    if channel == Channel.TELEGRAM.value and settings.telegram_local_mode:
        return LOCAL_BOT_API_LIMIT
    return SEND_LIMITS.get(channel)


def kind_of(words: tuple[str, ...] | list[str]) -> str | None:
    """`/ekspor` (the workbook) or `/ekspor paket` (the package); anything else is None (the command's usage)."""
    lowered = [w.lower() for w in words]
    if not lowered:
        return RECAP
    if lowered in (["paket"], ["package"]):
        return PACKAGE
    if lowered in (["rekap"],):
        return RECAP
    return None


def file_name(kind: str, campaign_id: int, now: datetime, zone: ZoneInfo) -> str:
    """`rekap-kegiatan-3-20260901-0900.xlsx`: what the document is called, with the WIB time it was made."""
    stamp = now.astimezone(zone).strftime("%Y%m%d-%H%M")
    base = recap_name(campaign_id) if kind == RECAP else package_name(campaign_id)
    stem, _, extension = base.rpartition(".")
    return f"{stem}-{stamp}.{extension}"


async def build(
    db: Database, files: FileStore, settings: Settings, campaign_id: int, kind: str, target: Path, now: datetime
) -> Built:
    """Read the campaign in one read unit, then write the export to `target` in a thread (a failure leaves none)."""
    async with db.read() as session:
        rows = await read_export(session, settings, campaign_id, now)
        final = await read_final(session, settings, campaign_id, now) if kind == PACKAGE else None
    data, evidence, entries = await asyncio.to_thread(_write, kind, rows, now, files, target, settings.timezone, final)
    return Built(
        kind,
        data.campaign_id,
        data.title,
        now,
        len(data.opds),
        entries,
        evidence,
        target.stat().st_size,
    )


def _write(
    kind: str,
    rows: ExportRows,
    now: datetime,
    files: FileStore,
    target: Path,
    zone: ZoneInfo,
    final: FinalDocuments | None = None,
) -> tuple[ExportData, int, int]:
    from bot.services.exports.recap import write_recap  # openpyxl: only when a workbook is written

    try:
        data = assemble(rows, now)
        with target.open("wb") as out:
            if kind == RECAP:
                write_recap(data, out, zone)
                return data, len(data.accepted()), data.file_count
            extras = final_files(final, zone) if final is not None else []
            summary = write_package(data, files, out, zone, extras)
            return data, summary.evidence, summary.files
    except BaseException:
        target.unlink(missing_ok=True)
        raise


async def for_chat(
    db: Database, files: FileStore, settings: Settings, campaign_id: int, kind: str, channel: str, now: datetime
) -> ChatExport:
    """Build the export into the store's temp space; admit it when the channel can send it, else keep it on disk."""
    fd, temp = files.open_temp()
    os.close(fd)
    try:
        built = await build(db, files, settings, campaign_id, kind, temp, now)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    name = file_name(kind, campaign_id, now, settings.timezone)
    limit = send_limit(channel, settings)
    if limit is None or built.size <= limit:
        digest = await asyncio.to_thread(_sha256, temp)
        return ChatExport(built, name, files.admit(Staged(digest, built.size, temp)), None, limit)
    kept = settings.data_dir / EXPORT_DIR / name
    kept.parent.mkdir(parents=True, exist_ok=True)
    os.replace(temp, kept)
    return ChatExport(built, name, None, kept, limit)


async def record_chat_export(session: AsyncSession, export: ChatExport, *, acting: Acting, now: datetime) -> None:
    """Name the stored document (so it is kept) and audit the export, in the transaction that queues it."""
    if export.blob is not None:
        await register_blob(session, export.blob, now)
    await record_export(session, export.built, acting=acting, now=now, name=export.name, kept=export.server_path)


async def record_export(
    session: AsyncSession, built: Built, *, acting: Acting, now: datetime, name: str, kept: Path | None = None
) -> None:
    """The audit row of an export: what, which campaign, how large, where it went."""
    await audit.record(
        session,
        acting,
        "export_recap" if built.kind == RECAP else "export_package",
        now,
        object_type="campaign",
        object_id=built.campaign_id,
        name=name,
        size=built.size,
        files=built.files,
        on_server=str(kept) if kept else None,
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_SIZE), b""):
            digest.update(chunk)
    return digest.hexdigest()
