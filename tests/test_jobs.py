"""The fixed jobs of jobs/, each run at an injected time against the real services, and what the runtime schedules."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

import bot.domain.enums
import storage.models
from bot.app import MonevApp, build_channels
from bot.runtime import Runtime
from bot.services import identity, submissions
from jobs import (
    evidence_text,
    journal_purge,
    journal_sweep,
    meeting_reminders,
    outbox_dispatch,
    recap_tick,
    reminder_tick,
    review_digest,
    upload_batches,
)
from storage.models import BatchStatus, OutboxMessage, Role, UploadBatch
from tests.test_submissions import NOW, open_campaign


def test_the_runtime_schedules_the_jobs_of_jobs(app: MonevApp) -> None:
    Runtime(app, build_channels(app))  # no Telegram token: no journal to sweep
    assert app.scheduler.job_names == sorted(
        [
            evidence_text.NAME,
            journal_purge.NAME,
            meeting_reminders.NAME,
            outbox_dispatch.NAME,
            recap_tick.NAME,
            reminder_tick.NAME,
            review_digest.NAME,
            upload_batches.NAME,
        ]
    )
    assert journal_sweep.NAME == "journal-sweep"  # the name the Telegram runtime registers it under


async def test_upload_batches_files_a_quiet_kirim_session_once_and_queues_its_receipt(app: MonevApp) -> None:
    services = app.services
    scope, liaison = await open_campaign(services.db)
    assert liaison.person_id is not None
    async with services.db.write() as session:
        await identity.ensure_assignment(session, liaison.person_id, Role.OPD, "DINKES", NOW)
        batch_id = await submissions.open_batch(
            session, scope=scope, channel="telegram", chat_id="501", person_id=liaison.person_id,
            kind="kirim", now=NOW, item_code="I.13",
        )  # fmt: skip
        await submissions.add_file(
            session, batch_id, services.files.store_bytes(b"%PDF-1.7 data dukung"), "bukti.pdf", "document",
            inbound_event_id=None, now=NOW,
        )  # fmt: skip

    assert await upload_batches.run(NOW + timedelta(minutes=9), services) == 0  # the session is still open
    assert await upload_batches.run(NOW + timedelta(minutes=11), services) == 1
    assert await upload_batches.run(NOW + timedelta(minutes=12), services) == 0  # filed once

    async with services.db.read() as session:
        batch = await session.get_one(UploadBatch, batch_id)
        queued = (await session.scalars(select(OutboxMessage))).all()
    assert batch.status == BatchStatus.FILED.value and batch.item_code == "I.13"
    assert [(m.person_id, m.kind) for m in queued] == [(liaison.person_id, "tanda_terima")]
    assert "I.13" in (queued[0].payload or "")


def test_the_domain_enums_are_the_ones_storage_re_exports() -> None:
    for name in ("Role", "Channel", "CampaignState", "ReviewState", "BatchStatus", "OutboxStatus", "InboundStatus"):
        assert getattr(storage.models, name) is getattr(bot.domain.enums, name)
    assert storage.models.OPD_SCOPED_ROLES is bot.domain.enums.OPD_SCOPED_ROLES
