"""Producing the Berita Acara for the chat and the CLI: read in one read unit, render in a thread, then deliver.

As for the other exports (produce.py), no transaction is held while docxtpl renders; a failed render leaves no file.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.audit import Acting
from bot.services.berita_acara import BeritaAcara, berita_acara, file_name, record_ba_export, template_path, write_ba
from bot.services.exports.produce import _sha256
from bot.services.uploads import register_blob
from bot.settings import Settings
from storage.database import Database
from storage.filestore import Blob, FileStore, Staged


@dataclass(frozen=True)
class BuiltBa:
    campaign_id: int
    title: str
    index: str
    predicate: str
    name: str
    size: int
    now: datetime


async def build_ba(db: Database, settings: Settings, campaign_id: int, target: Path, now: datetime) -> BuiltBa:
    """Read what the BA says, then render it into `target` with the city's template or the packaged one."""
    async with db.read() as session:
        ba = await berita_acara(session, campaign_id, settings.timezone, now)
    await asyncio.to_thread(_write, ba, template_path(settings.data_dir), target)
    name = file_name(campaign_id, now, settings.timezone)
    return BuiltBa(campaign_id, ba.title, ba.scores.index, ba.scores.predicate, name, target.stat().st_size, now)


def _write(ba: BeritaAcara, template: Path, target: Path) -> None:
    try:
        with target.open("wb") as out:
            write_ba(ba, template, out)
    except BaseException:
        target.unlink(missing_ok=True)
        raise


async def ba_for_chat(
    db: Database, files: FileStore, settings: Settings, campaign_id: int, now: datetime
) -> tuple[BuiltBa, Blob]:
    """The BA rendered into the store's temp space and admitted, to be sent as a document (a few tens of KB)."""
    fd, temp = files.open_temp()
    os.close(fd)
    try:
        built = await build_ba(db, settings, campaign_id, temp, now)
        digest = await asyncio.to_thread(_sha256, temp)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return built, files.admit(Staged(digest, built.size, temp))


async def record_chat_ba(session: AsyncSession, built: BuiltBa, blob: Blob, *, acting: Acting, now: datetime) -> None:
    """Name the stored document (so it is kept) and audit it, in the transaction that queues it."""
    await register_blob(session, blob, now)
    await record_ba_export(session, built.campaign_id, built.name, built.size, acting=acting, now=now)
