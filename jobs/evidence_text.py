"""The `evidence-text` job: every filed file is read once per content hash, then each version is checked once and
its findings go to the liaison (after the receipt, through the outbox).

Reading happens in child processes (`bot.services.evidence_reading.read_in_child`), at most
MONEV_EVIDENCE_WORKERS at a time, each bounded by MONEV_EVIDENCE_SECONDS and MONEV_EVIDENCE_MEMORY_MB and run at
a lower priority, so the event loop and the bot's inbound handling never wait for a page to be recognized.
Tesseract is optional: without it the job says so once in the log, and checks what text the files have.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from functools import partial

from bot.conversation.envelope import Envelope
from bot.conversation.handling import Services
from bot.services import evidence, outbox
from bot.services.evidence_checks import shipped_rules
from bot.services.evidence_reading import Limits, OcrStatus, ocr_status, read_in_child
from jobs.scheduler import PeriodicJob

logger = logging.getLogger(__name__)

NAME = "evidence-text"
EVERY_SECONDS = 3.0
KIND = "pemeriksaan"
CHECKS_PER_RUN = 50


def job(services: Services) -> PeriodicJob:
    """The job as the scheduler runs it."""
    return PeriodicJob(NAME, EVERY_SECONDS, partial(run, services=services))


# The OCR status last logged: a missing Tesseract is said once, not at every run.
_reported: list[OcrStatus] = []


async def run(now: datetime, services: Services) -> int:
    """Read what is unread and check what is read at `now`; returns how many files were read."""
    settings = services.settings
    workers = settings.evidence_workers
    if workers <= 0:
        return 0
    ocr = await asyncio.to_thread(ocr_status)
    if _reported != [ocr]:
        _reported[:] = [ocr]
        if not ocr.available:
            logger.warning("OCR unavailable: %s; scanned pages and images are not read", ocr.detail)
    async with services.db.write() as session:
        pending = await evidence.files_to_read(session, now, limit=workers * 4)
    limits = Limits(float(settings.evidence_seconds), settings.evidence_memory_mb)
    gate = asyncio.Semaphore(workers)

    async def read(sha256: str) -> None:
        async with gate:
            async with services.db.write() as session:
                await evidence.begin_reading(session, sha256, now)
            result = await read_in_child(services.files.path_for(sha256), limits, ocr=ocr.available)
            async with services.db.write() as session:
                await evidence.record_reading(session, sha256, result, now)
            logger.info("evidence %s read: %s (%s)", sha256[:12], result.state, result.method or "-")

    await asyncio.gather(*(read(sha256) for sha256 in pending))
    await check(now, services)
    return len(pending)


async def check(now: datetime, services: Services) -> int:
    """Check every version whose files are read; findings are queued for the liaison in the same transaction."""
    rules = shipped_rules()
    async with services.db.read() as session:
        due = await evidence.versions_to_check(session, limit=CHECKS_PER_RUN)
    for version_id in due:
        async with services.db.write() as session:
            if version_id not in await evidence.versions_to_check(session, limit=CHECKS_PER_RUN):
                continue  # checked meanwhile (by the other instance, before a lease change)
            checked = await evidence.check_version(session, version_id, rules, now=now)
            if not checked.findings:
                continue
            message = Envelope.of(KIND, "pemeriksaan/temuan", c=checked)
            for person_id in checked.recipients:
                await outbox.enqueue(
                    session,
                    person_id=person_id,
                    message=message,
                    now=now,
                    campaign_id=checked.campaign_id,
                    opd_id=checked.opd_id,
                )
    return len(due)
