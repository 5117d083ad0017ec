"""The `review-digest` job: every MONEV_REVIEW_DIGEST_MINUTES, admins and the Kasi read one message of what waits.

One message per period, not one per file: how many versions came in since the last digest and how many wait, per
campaign, with a button into `/tinjau` for each.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import partial

from bot.conversation.envelope import Envelope, EnvelopeButton, Label
from bot.services import outbox, review
from jobs.scheduler import PeriodicJob
from storage.database import Database

logger = logging.getLogger(__name__)

NAME = "review-digest"
EVERY_SECONDS = 60.0  # the job asks each minute; the service decides whether a period has passed
KIND = "ringkasan_tinjauan"


def job(db: Database, minutes: int) -> PeriodicJob:
    """The job as the scheduler runs it."""
    return PeriodicJob(NAME, EVERY_SECONDS, partial(run, db=db, minutes=minutes))


async def run(now: datetime, db: Database, minutes: int) -> int:
    """Queue the digest for every reviewer when one is due at `now`; returns how many messages were queued."""
    async with db.write() as session:
        digest = await review.due_digest(session, now, timedelta(minutes=minutes))
        if digest is None:
            return 0
        buttons = [
            [EnvelopeButton(Label("tombol/tinjau_kegiatan", {"id": line.campaign_id}), f"tnj:q:{line.campaign_id}")]
            for line in digest.lines
        ]
        message = Envelope.of(KIND, "tinjau/ringkasan", buttons=buttons, d=digest)
        for person_id in digest.reviewers:
            await outbox.enqueue(session, person_id=person_id, message=message, now=now)
    logger.info("review digest queued for %d reviewers", len(digest.reviewers))
    return len(digest.reviewers)
