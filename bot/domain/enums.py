"""The domain's enums: roles, channels, and the states of campaigns, reviews, batches, journal rows and messages.

They are plain StrEnums whose values are what the database stores; `storage.models` re-exports them so that the
migrations and older imports keep working.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """The roles of DESIGN §2; roles are never inherited."""

    OPD = "opd"
    KEPALA_OPD = "kepala_opd"
    ADMIN = "admin"
    KASI = "kasi"
    KABID = "kabid"
    SEKRETARIAT = "sekretariat"
    TIM = "tim"


# Roles that act for one OPD and therefore need one on their assignment.
OPD_SCOPED_ROLES = frozenset({Role.OPD, Role.KEPALA_OPD})


class Channel(StrEnum):
    """Where a person talks to the bot from."""

    TELEGRAM = "telegram"
    WHATSAPP = "whatsapp"
    CONSOLE = "console"
    CLI = "cli"


class InboundStatus(StrEnum):
    """Where a journaled inbound event stands."""

    PENDING = "pending"  # journaled, not yet handled (or an attempt failed and it will be re-run)
    DONE = "done"  # handled; the rendered reply is stored but not yet sent
    REPLIED = "replied"  # the reply was sent (or could not be delivered and was given up)
    FAILED = "failed"  # three attempts failed; logged and shown in /healthz


class CampaignState(StrEnum):
    """DESIGN §3: draft → awaiting_disposition → approved → signed → open → closed → recapped → finalized."""

    DRAFT = "draft"
    AWAITING_DISPOSITION = "awaiting_disposition"
    APPROVED = "approved"
    SIGNED = "signed"
    OPEN = "open"
    CLOSED = "closed"
    RECAPPED = "recapped"
    FINALIZED = "finalized"


class OutboxStatus(StrEnum):
    """Where an outbox message stands; sent, unreachable, failed and expired are final."""

    PENDING = "pending"
    SENDING = "sending"  # claimed by the dispatcher; after a crash the new lease holder sends it again
    SENT = "sent"
    UNREACHABLE = "unreachable"  # blocked the bot or no chat: not retried
    FAILED = "failed"  # refused by the platform (our bug): logged, not retried
    EXPIRED = "expired"  # not delivered before its `expires_at` (a reminder after its working day): never sent
    # WhatsApp outside the 24-hour window: the generic notice went out, the message itself goes once they reply.
    AWAITING_REPLY = "awaiting_reply"


class BatchStatus(StrEnum):
    """Where an upload batch (one message, one album, or one /kirim session) stands."""

    COLLECTING = "collecting"  # an album's parts or a /kirim session still arriving
    AWAITING_OPD = "awaiting_opd"  # the sender has been asked which OPD (or, OPD known, which campaign) it is for
    AWAITING_ITEM = "awaiting_item"  # complete; the sender has been asked which item
    FILED = "filed"
    CANCELLED = "cancelled"


class ReviewState(StrEnum):
    """Where the review of a submitted version stands."""

    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REVISION_REQUESTED = "revision_requested"


class ReviewDecision(StrEnum):
    """What one row of `submission_review` records; the version's state after it is `ReviewDecision.state`."""

    ACCEPTED = "accepted"
    REVISION_REQUESTED = "revision_requested"
    REOPENED = "reopened"  # an admin opened an accepted item again: the version waits for review once more

    @property
    def state(self) -> ReviewState:
        return ReviewState.SUBMITTED if self is ReviewDecision.REOPENED else ReviewState(self.value)


class ReviewReason(StrEnum):
    """The short list a reviewer may pick from when asking for a revision (the note says the rest)."""

    BUKTI_TIDAK_TEPAT = "bukti_tidak_tepat"
    TIDAK_LENGKAP = "tidak_lengkap"
    TIDAK_TERBACA = "tidak_terbaca"
    SALAH_INDIKATOR = "salah_indikator"


class ReminderState(StrEnum):
    """A reminder record: a scheduled point queued in its window, one missed, or one sent by hand (`/ingatkan`)."""

    SENT = "sent"
    SKIPPED = "skipped"  # its window passed with nothing delivered: never sent late
    MANUAL = "manual"


class MeetingState(StrEnum):
    """Where the Tim SPBE's coordination meeting (SOP step 5) stands; cancelled and held are final."""

    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"
    HELD = "held"


class Rsvp(StrEnum):
    """An invitee's answer to a meeting invitation (no row value: not answered yet)."""

    HADIR = "hadir"
    TIDAK_HADIR = "tidak_hadir"
    DIWAKILKAN = "diwakilkan"  # someone else comes in their place; the representative's name is kept
