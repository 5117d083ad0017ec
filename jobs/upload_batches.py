"""The `upload-batches` job: albums and /kirim sessions that have gone quiet are filed, or their sender is asked.

An album is one version: it closes 2 s after its last part arrived; a /kirim session closes 10 minutes after its
last file (or at "Selesai", which the handler does). The reply goes through the outbox, in the closing transaction.
The job runs when the earliest batch falls due (a new part moves it: the runtime wakes the job on each), and every
10 s for batches of other processes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

from bot.conversation.envelope import Envelope
from bot.conversation.handling import Services
from bot.errors import DomainError
from bot.services import outbox, people, submissions
from bot.services.audit import Acting
from handlers.intake import (
    UPLOAD_KIND,
    campaign_question_message,
    opd_question_message,
    question_message,
    receipt_message,
    tell_liaisons,
)
from jobs.scheduler import PeriodicJob

NAME = "upload-batches"
EVERY_SECONDS = 10.0
ALBUM_QUIET_SECONDS = 2.0
KIRIM_QUIET_SECONDS = 600.0
# A batch past its quiet time whose chat still has journaled updates waiting is looked at again this soon.
BLOCKED_RETRY_SECONDS = 0.5


def job(services: Services) -> PeriodicJob:
    """The job as the scheduler runs it."""
    return PeriodicJob(
        NAME, EVERY_SECONDS, partial(run, services=services), next_due=partial(next_due, services=services)
    )


async def next_due(now: datetime, services: Services) -> datetime | None:
    """When the earliest open batch falls due; soon again for one that is due but waits for its chat's updates."""
    async with services.db.read() as session:
        due = await submissions.next_batch_due(
            session, album_quiet=ALBUM_QUIET_SECONDS, kirim_quiet=KIRIM_QUIET_SECONDS
        )
    if due is None:
        return None
    return max(due, now + timedelta(seconds=BLOCKED_RETRY_SECONDS))


async def run(now: datetime, services: Services) -> int:
    """File or ask about every batch that is due at `now`; returns how many were closed."""
    closed = 0
    async with services.db.read() as session:
        due = await submissions.due_batches(
            session, now, album_quiet=ALBUM_QUIET_SECONDS, kirim_quiet=KIRIM_QUIET_SECONDS
        )
    for batch_id in due:
        async with services.db.write() as session:
            # Still due now, in the closing transaction: a part may have been journaled since the read.
            if not await submissions.due_batches(
                session, now, album_quiet=ALBUM_QUIET_SECONDS, kirim_quiet=KIRIM_QUIET_SECONDS, batch_id=batch_id
            ):
                continue
            batch = await submissions.load_batch(session, batch_id)
            if batch is None:
                continue
            try:
                # The job acts for the sender: only while they still hold the role (a revocation cancels it).
                await submissions.owner_authority(session, batch)
                acting = Acting(batch.person_id, "opd" if not batch.on_behalf else None, batch.channel)
                if batch.opd_id is None:
                    await submissions.await_opd(session, batch_id)
                    codes = await people.opd_codes_of(session, batch.person_id)
                    message = opd_question_message(services, batch_id, codes)
                elif batch.campaign_id is None:  # the OPD has items open in two campaigns: ask which
                    await submissions.await_opd(session, batch_id)
                    choices = await submissions.campaign_choices(session, batch)
                    message = campaign_question_message(services, batch_id, choices)
                elif batch.item_code:
                    receipt = await submissions.file_batch(session, batch_id, batch.item_code, acting=acting, now=now)
                    message = receipt_message(receipt)
                    await tell_liaisons(services, receipt, now, session=session)
                else:
                    await submissions.await_item(session, batch_id)
                    state = await submissions.progress(session, await submissions.batch_scope(session, batch))
                    message = question_message(services, batch_id, state, 0)
            except DomainError as refusal:
                if refusal.template == "umum/sudah_diproses":
                    continue  # a button press (or the other instance) moved the batch first; it answered
                await submissions.cancel_batch(session, batch_id)
                message = Envelope.of(UPLOAD_KIND, refusal.template, **refusal.params)
            await outbox.enqueue(session, person_id=batch.person_id, message=message, now=now)
            closed += 1
    return closed
