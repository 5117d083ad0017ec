"""The typed SQLAlchemy models: identity (person, channel identity, role assignment) and the OPD registry."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, ForeignKey, Index, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from bot.domain.enums import (  # noqa: F401  re-exported: migrations and older imports keep working
    OPD_SCOPED_ROLES,
    BatchStatus,
    CampaignState,
    Channel,
    InboundStatus,
    MeetingState,
    OutboxStatus,
    ReminderState,
    ReviewDecision,
    ReviewReason,
    ReviewState,
    Role,
    Rsvp,
)
from storage.types import UTCDateTime


class Base(DeclarativeBase):
    """Declarative base; every datetime column goes through UTCDateTime."""

    type_annotation_map = {datetime: UTCDateTime}


class Opd(Base):
    """An Organisasi Perangkat Daerah: one of the city's agencies."""

    __tablename__ = "opd"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    short_name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]


class Person(Base):
    """Somebody who uses the bot; identity never comes from a display name."""

    __tablename__ = "person"

    id: Mapped[int] = mapped_column(primary_key=True)
    display_name: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    purged_at: Mapped[datetime | None]

    identities: Mapped[list[ChannelIdentity]] = relationship(back_populates="person", lazy="raise")
    assignments: Mapped[list[RoleAssignment]] = relationship(
        back_populates="person", lazy="raise", foreign_keys="RoleAssignment.person_id"
    )


class ChannelIdentity(Base):
    """One account of a person on one channel (Telegram user id, WhatsApp user id, console user)."""

    __tablename__ = "channel_identity"
    __table_args__ = (
        UniqueConstraint("channel", "external_id"),
        # The outbox claim asks, per message, whether its person has a reachable account.
        Index("ix_channel_identity_person", "person_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    username: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
    last_inbound_at: Mapped[datetime | None]
    unreachable_at: Mapped[datetime | None]  # blocked the bot / chat not found; cleared by their next message

    person: Mapped[Person] = relationship(back_populates="identities", lazy="raise")


class RoleAssignment(Base):
    """A role held by a person, for one OPD or none; revoking sets revoked_at, nothing is deleted."""

    __tablename__ = "role_assignment"
    __table_args__ = (Index("ix_role_assignment_person_active", "person_id", "revoked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    role: Mapped[str] = mapped_column(String(16))
    opd_id: Mapped[int | None] = mapped_column(ForeignKey("opd.id"))
    granted_by_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    granted_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_by_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))

    person: Mapped[Person] = relationship(back_populates="assignments", lazy="raise", foreign_keys=[person_id])
    opd: Mapped[Opd | None] = relationship(lazy="raise")


class StoredFile(Base):
    """A blob in the content-addressed file store; the row is written only after the blob is on disk."""

    __tablename__ = "stored_file"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int]
    created_at: Mapped[datetime]


class InboundEvent(Base):
    """The inbound journal: every update, committed raw before it is acknowledged to the platform."""

    __tablename__ = "inbound_event"
    __table_args__ = (
        UniqueConstraint("channel", "update_key"),
        Index("ix_inbound_event_status", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    update_key: Mapped[str] = mapped_column(String(128))
    chat_key: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default=InboundStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    replies: Mapped[str | None] = mapped_column(Text)
    handled_at: Mapped[datetime | None]
    replied_at: Mapped[datetime | None]


class Lease(Base):
    """The single-sender lease: only its holder polls, processes the journal, runs jobs and dispatches."""

    __tablename__ = "lease"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    acquired_at: Mapped[datetime]
    renewed_at: Mapped[datetime]
    # Bumped on every takeover; a sender's writes are conditional on the epoch it was granted (a fence).
    epoch: Mapped[int] = mapped_column(default=0, server_default="0")


class BotState(Base):
    """Small facts the bot learns at run time (e.g. its Telegram username, for deep links)."""

    __tablename__ = "bot_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))
    updated_at: Mapped[datetime]


class UnfiledUpload(Base):
    """A file received in chat and stored, not yet filed to a requested item (intake comes later)."""

    __tablename__ = "unfiled_upload"

    id: Mapped[int] = mapped_column(primary_key=True)
    inbound_event_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_event.id"), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    sender_external_id: Mapped[str] = mapped_column(String(64))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    file_name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(ForeignKey("stored_file.sha256"))
    received_at: Mapped[datetime]


class AuditEntry(Base):
    """The append-only audit log of business actions; database triggers refuse UPDATE and DELETE."""

    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    role: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(48))
    object_type: Mapped[str | None] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(16))
    chat_message_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[str | None] = mapped_column(Text)


class Invite(Base):
    """A single-use, expiring invite code; only its hash is stored."""

    __tablename__ = "invite"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str | None] = mapped_column(String(16))  # None for a code that links a channel to a person
    opd_id: Mapped[int | None] = mapped_column(ForeignKey("opd.id"))
    link_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    handover: Mapped[bool] = mapped_column(default=False)
    created_by_person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    revoked_at: Mapped[datetime | None]


class CodeAttempt(Base):
    """A failed invite-code attempt from one chat, for the lockout (5 within an hour)."""

    __tablename__ = "code_attempt"
    __table_args__ = (Index("ix_code_attempt_chat", "channel", "chat_id", "attempted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    attempted_at: Mapped[datetime]
    cleared_at: Mapped[datetime | None]


class PendingAction(Base):
    """A one-time action behind a button: the callback data carries only its random token."""

    __tablename__ = "pending_action"

    token: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    params: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class Campaign(Base):
    """One round of monev; it owns a copy of its items and their assignment to OPDs."""

    __tablename__ = "campaign"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    framework: Mapped[str | None] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(24), default=CampaignState.DRAFT.value)
    deadline: Mapped[datetime]
    created_at: Mapped[datetime]
    created_by_person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    submitted_by_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    draft_letter_sha256: Mapped[str | None] = mapped_column(ForeignKey("stored_file.sha256"))
    draft_letter_name: Mapped[str | None] = mapped_column(String(255))
    signed_letter_sha256: Mapped[str | None] = mapped_column(ForeignKey("stored_file.sha256"))
    signed_letter_name: Mapped[str | None] = mapped_column(String(255))
    signed_by_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    broadcast_reported_at: Mapped[datetime | None]


class CampaignItem(Base):
    """A requested item, copied into the campaign at creation (editing it never touches another campaign)."""

    __tablename__ = "campaign_item"
    __table_args__ = (UniqueConstraint("campaign_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    code: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    required: Mapped[bool] = mapped_column(default=True)
    weight: Mapped[Decimal | None] = mapped_column(Numeric(7, 3))
    file_kinds: Mapped[str] = mapped_column(String(100), default="")
    position: Mapped[int]


class CampaignOpd(Base):
    """An OPD taking part in a campaign."""

    __tablename__ = "campaign_opd"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), primary_key=True)
    opd_id: Mapped[int] = mapped_column(ForeignKey("opd.id"), primary_key=True)


class ItemAssignment(Base):
    """Which OPD must answer which item of a campaign."""

    __tablename__ = "item_assignment"
    __table_args__ = (Index("ix_item_assignment_opd", "opd_id"),)

    campaign_item_id: Mapped[int] = mapped_column(ForeignKey("campaign_item.id"), primary_key=True)
    opd_id: Mapped[int] = mapped_column(ForeignKey("opd.id"), primary_key=True)


class CampaignEvent(Base):
    """The campaign's timeline: every state change with its actor, time and note."""

    __tablename__ = "campaign_event"
    __table_args__ = (Index("ix_campaign_event_campaign", "campaign_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    kind: Mapped[str] = mapped_column(String(24))
    at: Mapped[datetime]
    actor_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    note: Mapped[str | None] = mapped_column(Text)


class Conversation(Base):
    """A guided flow in progress in one chat; kept in the database so it survives a restart."""

    __tablename__ = "conversation"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    flow: Mapped[str] = mapped_column(String(32))
    step: Mapped[str] = mapped_column(String(32))
    data: Mapped[str] = mapped_column(Text, default="{}")
    updated_at: Mapped[datetime]


class HolidayOverride(Base):
    """A local change to the `holidays` package's calendar: an added holiday, or one of its holidays cancelled."""

    __tablename__ = "holiday_override"

    day: Mapped[date] = mapped_column(primary_key=True)
    is_holiday: Mapped[bool]  # True: a holiday the package lacks; False: a package holiday made a working day
    note: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    created_by_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))


class OutboxMessage(Base):
    """Everything the bot sends that is not a direct reply, written in the transaction of its cause."""

    __tablename__ = "outbox_message"
    __table_args__ = (
        Index("ix_outbox_due", "status", "not_before", "id"),
        Index("ix_outbox_campaign", "campaign_id", "opd_id"),
        Index("ix_outbox_platform_message", "platform_message_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    kind: Mapped[str] = mapped_column(String(32))
    template_key: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str | None] = mapped_column(Text)  # the envelope as JSON (bot.conversation.envelope)
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING.value)
    not_before: Mapped[datetime]
    created_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    sent_at: Mapped[datetime | None]
    channel: Mapped[str | None] = mapped_column(String(16))
    chat_id: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(String(500))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id"))
    opd_id: Mapped[int | None] = mapped_column(ForeignKey("opd.id"))
    # A message that is worth nothing later (a reminder after its working day) is not sent from then on.
    expires_at: Mapped[datetime | None]
    reminder_id: Mapped[int | None] = mapped_column(ForeignKey("reminder.id"))
    # WhatsApp reports delivery later, by its message id (wamid): the latest of sent, delivered, read or failed.
    platform_message_id: Mapped[str | None] = mapped_column(String(128))
    receipt: Mapped[str | None] = mapped_column(String(16))
    receipt_at: Mapped[datetime | None]


class DeliveryAttempt(Base):
    """Every attempt to deliver an outbox message (append-only)."""

    __tablename__ = "delivery_attempt"
    __table_args__ = (Index("ix_delivery_attempt_message", "message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbox_message.id"))
    at: Mapped[datetime]
    channel: Mapped[str | None] = mapped_column(String(16))
    chat_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(String(500))
    platform_message_id: Mapped[str | None] = mapped_column(String(128))


class PlatformFile(Base):
    """A stored file already uploaded to a platform, so later sends reuse its id (Telegram's file_id)."""

    __tablename__ = "platform_file"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("stored_file.sha256"), primary_key=True)
    file_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]


class UploadBatch(Base):
    """Files that become one version: one message, one album, or one /kirim session (kept across restarts)."""

    __tablename__ = "upload_batch"
    __table_args__ = (
        UniqueConstraint("channel", "chat_id", "media_group_id"),
        Index("ix_upload_batch_open", "status", "last_part_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    opd_id: Mapped[int | None] = mapped_column(ForeignKey("opd.id"))  # None until a liaison of several OPDs picks
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id"))
    item_code: Mapped[str | None] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(8))  # single, album, kirim
    media_group_id: Mapped[str | None] = mapped_column(String(64))
    on_behalf: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(16), default=BatchStatus.COLLECTING.value)
    created_at: Mapped[datetime]
    last_part_at: Mapped[datetime]


class BatchFile(Base):
    """One file of a batch; a replayed update finds its row (unique per journal row)."""

    __tablename__ = "batch_file"
    __table_args__ = (Index("ix_batch_file_batch", "batch_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("upload_batch.id"))
    inbound_event_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_event.id"), unique=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("stored_file.sha256"))
    file_name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(8))


class SubmissionVersion(Base):
    """A version of one OPD's answer to one item: a set of files; nothing is overwritten or deleted."""

    __tablename__ = "submission_version"
    __table_args__ = (
        UniqueConstraint("campaign_item_id", "opd_id", "number"),
        Index("ix_submission_opd", "campaign_id", "opd_id"),
        # The review queue: only versions still waiting (a few hundred at most, whatever the history), oldest
        # first per campaign, so "next version to review" reads one index range and stops at the first free one.
        Index(
            "ix_submission_review_queue",
            "campaign_id",
            "created_at",
            "id",
            sqlite_where=text("review_state = 'submitted' AND superseded_by_number IS NULL"),
            postgresql_where=text("review_state = 'submitted' AND superseded_by_number IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    campaign_item_id: Mapped[int] = mapped_column(ForeignKey("campaign_item.id"))
    opd_id: Mapped[int] = mapped_column(ForeignKey("opd.id"))
    number: Mapped[int]
    uploaded_by_person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    on_behalf: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    late: Mapped[bool] = mapped_column(default=False)
    review_state: Mapped[str] = mapped_column(String(24), default=ReviewState.SUBMITTED.value)
    superseded_by_number: Mapped[int | None]
    reviewed_by_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    review_note: Mapped[str | None] = mapped_column(Text)
    # `review_state`, `reviewed_by_person_id` and `review_note` are the latest `submission_review` row, written
    # in the same UPDATE that checks the state (the compare-and-set), so listings read one row per version.
    review_claimed_by_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    review_claimed_until: Mapped[datetime | None]
    files_key: Mapped[str] = mapped_column(String(64))  # SHA-256 of the sorted file hashes: same set, same key


class SubmissionFile(Base):
    __tablename__ = "submission_file"
    # The evidence search and the automatic check find a file's versions by its hash.
    __table_args__ = (Index("ix_submission_file_sha256", "sha256"),)

    version_id: Mapped[int] = mapped_column(ForeignKey("submission_version.id"), primary_key=True)
    position: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("stored_file.sha256"))
    file_name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)


class SubmissionReview(Base):
    """One review of a version, append-only: accept, return for revision, or reopen (the latest one counts)."""

    __tablename__ = "submission_review"
    __table_args__ = (Index("ix_submission_review_version", "version_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("submission_version.id"))
    decision: Mapped[str] = mapped_column(String(24))  # ReviewDecision
    reason: Mapped[str | None] = mapped_column(String(24))  # ReviewReason, only with a revision request
    note: Mapped[str | None] = mapped_column(Text)
    reviewer_person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    role: Mapped[str] = mapped_column(String(24))
    at: Mapped[datetime]


class DeadlineExtension(Base):
    """A later deadline for one OPD of a campaign, or (no OPD) for all of them: who, why, when."""

    __tablename__ = "deadline_extension"
    __table_args__ = (Index("ix_deadline_extension_campaign", "campaign_id", "opd_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    opd_id: Mapped[int | None] = mapped_column(ForeignKey("opd.id"))  # None: every OPD of the campaign
    deadline: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[datetime]


class EvidenceText(Base):
    """The text read from one stored file, once per content hash (jobs/evidence_text.py): how, and how well."""

    __tablename__ = "evidence_text"
    __table_args__ = (Index("ix_evidence_text_state", "state"),)

    sha256: Mapped[str] = mapped_column(ForeignKey("stored_file.sha256"), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))  # reading, read, unreadable
    method: Mapped[str | None] = mapped_column(String(16))  # pdf, pdf+ocr, ocr, docx, xlsx
    pages: Mapped[int | None]
    ocr_confidence: Mapped[int | None]  # Tesseract's mean word confidence, 0-100, when any page was read by OCR
    reason: Mapped[str | None] = mapped_column(String(300))  # why it is unreadable, in Bahasa Indonesia
    body: Mapped[str] = mapped_column(Text, default="")
    # A MinHash of the text's word shingles (hex), to find near-copies without comparing whole texts.
    signature: Mapped[str | None] = mapped_column(Text)
    screenshot: Mapped[bool] = mapped_column(default=False)  # an image shaped like a screen, not a scanned page
    attempts: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime]
    read_at: Mapped[datetime | None]


class EvidenceCheck(Base):
    """A version whose files were read and checked (the automatic check runs once per version)."""

    __tablename__ = "evidence_check"

    version_id: Mapped[int] = mapped_column(ForeignKey("submission_version.id"), primary_key=True)
    checked_at: Mapped[datetime]


class EvidenceFinding(Base):
    """One finding of the automatic check on a version (a sentence from the templates, never a verdict)."""

    __tablename__ = "evidence_finding"
    __table_args__ = (Index("ix_evidence_finding_version", "version_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("submission_version.id"))
    check: Mapped[str] = mapped_column(String(24))  # which check (the rules file's names)
    code: Mapped[str] = mapped_column(String(32))  # which sentence: templates/pemeriksaan/temuan.txt.j2
    sha256: Mapped[str | None] = mapped_column(ForeignKey("stored_file.sha256"))
    details: Mapped[str] = mapped_column(Text, default="{}")  # the sentence's values, as JSON


# The search index over `evidence_text.body` lives outside the model, made by migration 0017 for each backend:
# SQLite an FTS5 virtual table (with its shadow tables), PostgreSQL a GIN index on the text's tsvector. Neither
# is expressible as a portable model, so the migration-versus-model comparison skips exactly these names.
SEARCH_INDEX_NAMES = frozenset(
    {
        "evidence_search",
        "evidence_search_data",
        "evidence_search_idx",
        "evidence_search_content",
        "evidence_search_docsize",
        "evidence_search_config",
        "ix_evidence_text_search",
    }
)


class Reminder(Base):
    """One reminder point of an OPD in a campaign: sent (queued in its window), skipped (missed), or manual.

    Unique on (campaign, OPD, point, effective deadline), so each point goes out at most once whatever restarts
    happen, and an extension (a new deadline) makes new points. A manual reminder (`/ingatkan`) has a key of its
    own and never stands in for a scheduled point.
    """

    __tablename__ = "reminder"
    __table_args__ = (UniqueConstraint("campaign_id", "opd_id", "point", "deadline", name="uq_reminder_point"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    opd_id: Mapped[int] = mapped_column(ForeignKey("opd.id"))
    point: Mapped[str] = mapped_column(String(48))  # the point's day (ISO), or "manual:<time>" for /ingatkan
    deadline: Mapped[datetime]  # the OPD's effective deadline the point was computed from
    label: Mapped[str] = mapped_column(String(24))  # "H-7", "H-3 H-1", "T+2", "manual"
    state: Mapped[str] = mapped_column(String(16))  # sent | skipped | manual
    created_at: Mapped[datetime]
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))  # who sent a manual one


class Meeting(Base):
    """The Tim SPBE's coordination meeting of a campaign (SOP step 5): when, where, what, who organises it."""

    __tablename__ = "meeting"
    __table_args__ = (Index("ix_meeting_campaign", "campaign_id", "id"), Index("ix_meeting_due", "state", "starts_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    starts_at: Mapped[datetime]
    duration_minutes: Mapped[int] = mapped_column(default=180)  # the SOP's mutu baku for step 5
    place: Mapped[str] = mapped_column(String(200))
    agenda: Mapped[str] = mapped_column(Text)
    organiser_person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    state: Mapped[str] = mapped_column(String(16), default=MeetingState.SCHEDULED.value)
    invited_at: Mapped[datetime]  # when the invitations (or the latest reschedule's notices) were queued
    actual_start: Mapped[datetime | None]
    actual_end: Mapped[datetime | None]
    created_at: Mapped[datetime]


class MeetingInvitee(Base):
    """One person invited to a meeting and their answer (none yet: `rsvp` is NULL)."""

    __tablename__ = "meeting_invitee"

    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), primary_key=True)
    rsvp: Mapped[str | None] = mapped_column(String(16))
    representative: Mapped[str | None] = mapped_column(String(120))
    answered_at: Mapped[datetime | None]


class MeetingReminder(Base):
    """A reminder sent for a meeting; unique per start time, so a rescheduled meeting is reminded afresh."""

    __tablename__ = "meeting_reminder"
    __table_args__ = (UniqueConstraint("meeting_id", "person_id", "kind", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    kind: Mapped[str] = mapped_column(String(16))  # hari, jam, peralatan
    starts_at: Mapped[datetime]
    sent_at: Mapped[datetime]


class Announcement(Base):
    """An announcement (`/umumkan`) to the liaisons of a campaign's OPDs: its text, its document, its report."""

    __tablename__ = "announcement"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    sender_person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    text: Mapped[str] = mapped_column(Text)
    document_sha256: Mapped[str | None] = mapped_column(String(64), ForeignKey("stored_file.sha256"))
    document_name: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    # The sender's delivery report went into the outbox then (NULL: some message still waits).
    reported_at: Mapped[datetime | None]


class AnnouncementRecipient(Base):
    """One liaison an announcement went to, and the outbox message that carries it."""

    __tablename__ = "announcement_recipient"

    announcement_id: Mapped[int] = mapped_column(ForeignKey("announcement.id"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), primary_key=True)
    opd_id: Mapped[int] = mapped_column(ForeignKey("opd.id"), primary_key=True)
    outbox_message_id: Mapped[int] = mapped_column(ForeignKey("outbox_message.id"))


class Question(Base):
    """A liaison's free text relayed to the admins and the Kasi, and the answer one of them gave."""

    __tablename__ = "question"
    __table_args__ = (Index("ix_question_opd", "opd_id", "asked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    opd_id: Mapped[int] = mapped_column(ForeignKey("opd.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    text: Mapped[str] = mapped_column(Text)
    asked_at: Mapped[datetime]
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    answered_at: Mapped[datetime | None]


class QuestionMessage(Base):
    """The outbox message that showed a question to one admin or Kasi: a reply to it answers the question."""

    __tablename__ = "question_message"
    __table_args__ = (Index("ix_question_message_outbox", "outbox_message_id"),)

    question_id: Mapped[int] = mapped_column(ForeignKey("question.id"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), primary_key=True)
    outbox_message_id: Mapped[int] = mapped_column(ForeignKey("outbox_message.id"))


class Recap(Base):
    """A daily recap of a campaign: claimed once per (campaign, working day), with the figures it showed.

    The claim makes the recap go out once a day whatever restarts happen; the figures (totals and, per OPD,
    kelengkapan and terverifikasi as JSON) are what the next recap compares against ("sejak rekap kemarin").
    """

    __tablename__ = "recap"
    __table_args__ = (UniqueConstraint("campaign_id", "day", name="uq_recap_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    day: Mapped[date]
    sent_at: Mapped[datetime]
    required: Mapped[int]
    complete: Mapped[int]
    verified: Mapped[int]
    snapshot: Mapped[str] = mapped_column(Text)  # {"OPD_CODE": [complete, verified], ...}


class CampaignScore(Base):
    """The Tim SPBE's proposed level of one indicator of a campaign (self-assessment), with its explanation.

    `item_code` is the campaign item's code (`I.NN` for a framework's indicator); one row per indicator, updated
    in place (every change is in the audit log with the level before and after).
    """

    __tablename__ = "campaign_score"
    __table_args__ = (UniqueConstraint("campaign_id", "item_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    item_code: Mapped[str] = mapped_column(String(16))
    level: Mapped[int]
    penjelasan: Mapped[str] = mapped_column(Text)
    # Pemdi 5-7: the other agency's assessment the level comes from ("penilaian instansi lain").
    source: Mapped[str | None] = mapped_column(String(300))
    recorded_by_person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))  # whoever set the current level
    recorded_at: Mapped[datetime]  # first recorded
    updated_at: Mapped[datetime]  # last changed (equals recorded_at until then)


class SignedBeritaAcara(Base):
    """The Berita Acara signed by the Sekda, uploaded as a PDF (ends SOP step 6); the latest upload counts."""

    __tablename__ = "signed_berita_acara"
    __table_args__ = (Index("ix_signed_berita_acara_campaign", "campaign_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    sha256: Mapped[str] = mapped_column(ForeignKey("stored_file.sha256"))
    file_name: Mapped[str] = mapped_column(String(255))
    uploaded_by_person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    uploaded_at: Mapped[datetime]
