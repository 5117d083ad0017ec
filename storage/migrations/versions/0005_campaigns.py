"""campaigns: items, assignments, events, conversations

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 23:55:46.087257
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "campaign",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("framework", sa.String(length=40), nullable=True),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("deadline", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_person_id", sa.Integer(), nullable=False),
        sa.Column("submitted_by_person_id", sa.Integer(), nullable=True),
        sa.Column("draft_letter_sha256", sa.String(length=64), nullable=True),
        sa.Column("draft_letter_name", sa.String(length=255), nullable=True),
        sa.Column("signed_letter_sha256", sa.String(length=64), nullable=True),
        sa.Column("signed_letter_name", sa.String(length=255), nullable=True),
        sa.Column("signed_by_person_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_person_id"],
            ["person.id"],
        ),
        sa.ForeignKeyConstraint(
            ["draft_letter_sha256"],
            ["stored_file.sha256"],
        ),
        sa.ForeignKeyConstraint(
            ["signed_by_person_id"],
            ["person.id"],
        ),
        sa.ForeignKeyConstraint(
            ["signed_letter_sha256"],
            ["stored_file.sha256"],
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by_person_id"],
            ["person.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "conversation",
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("chat_id", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("flow", sa.String(length=32), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
        ),
        sa.PrimaryKeyConstraint("channel", "chat_id"),
    )
    op.create_table(
        "campaign_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_person_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_person_id"],
            ["person.id"],
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("campaign_event", schema=None) as batch_op:
        batch_op.create_index("ix_campaign_event_campaign", ["campaign_id", "at"], unique=False)

    op.create_table(
        "campaign_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("weight", sa.Numeric(precision=7, scale=3), nullable=True),
        sa.Column("file_kinds", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "code"),
    )
    op.create_table(
        "campaign_opd",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("opd_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
        ),
        sa.ForeignKeyConstraint(
            ["opd_id"],
            ["opd.id"],
        ),
        sa.PrimaryKeyConstraint("campaign_id", "opd_id"),
    )
    op.create_table(
        "item_assignment",
        sa.Column("campaign_item_id", sa.Integer(), nullable=False),
        sa.Column("opd_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_item_id"],
            ["campaign_item.id"],
        ),
        sa.ForeignKeyConstraint(
            ["opd_id"],
            ["opd.id"],
        ),
        sa.PrimaryKeyConstraint("campaign_item_id", "opd_id"),
    )
    with op.batch_alter_table("item_assignment", schema=None) as batch_op:
        batch_op.create_index("ix_item_assignment_opd", ["opd_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("item_assignment", schema=None) as batch_op:
        batch_op.drop_index("ix_item_assignment_opd")

    op.drop_table("item_assignment")
    op.drop_table("campaign_opd")
    op.drop_table("campaign_item")
    with op.batch_alter_table("campaign_event", schema=None) as batch_op:
        batch_op.drop_index("ix_campaign_event_campaign")

    op.drop_table("campaign_event")
    op.drop_table("conversation")
    op.drop_table("campaign")
