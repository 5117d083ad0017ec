"""The `meeting-reminders` job: the coordination meeting's reminders, each sent once per start time.

One working day before (at the opening of that day) and one hour before, the invitees who accepted, sent a
representative or have not answered are reminded (not those who declined); with the day reminder the organiser
is asked to check the meeting room's equipment, quoting the SOP.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial

from bot.conversation.envelope import Envelope, EnvelopeButton, Label
from bot.conversation.handling import Services
from bot.services import meetings, outbox
from bot.services.calendar import load_calendar
from bot.services.meetings import DueReminder, ReminderKind
from jobs.scheduler import PeriodicJob

logger = logging.getLogger(__name__)

NAME = "meeting-reminders"
EVERY_SECONDS = 60.0
KIND = "rapat"


def job(services: Services) -> PeriodicJob:
    """The job as the scheduler runs it."""
    return PeriodicJob(NAME, EVERY_SECONDS, partial(run, services=services))


def _message(reminder: DueReminder) -> Envelope:
    view = reminder.meeting
    if reminder.kind == ReminderKind.EQUIPMENT:
        attendance = EnvelopeButton(Label("tombol/daftar_hadir"), f"rpt:m:{view.id}")
        return Envelope.of(KIND, "rapat/peralatan", buttons=[[attendance]], m=view)
    return Envelope.of(KIND, "rapat/pengingat", m=view, jenis=reminder.kind, i=view.invitee(reminder.person_id))


async def run(now: datetime, services: Services) -> int:
    """Queue the reminders due at `now`; returns how many were queued.

    Most minutes no meeting is ahead: a read answers that, and the calendar (the holidays package computes its
    years) is built before the write lock is taken, so this job never holds SQLite's writer for long.
    """
    async with services.db.read() as session:
        if not await meetings.reminders_may_be_due(session, now):
            return 0
        calendar = await load_calendar(session, services.settings, range(now.year - 1, now.year + 2))
    async with services.db.write() as session:
        due = await meetings.take_due_reminders(session, calendar, now)
        for reminder in due:
            await outbox.enqueue(
                session,
                person_id=reminder.person_id,
                message=_message(reminder),
                now=now,
                campaign_id=reminder.meeting.campaign_id,
            )
    if due:
        logger.info("meeting reminders queued: %d", len(due))
    return len(due)
