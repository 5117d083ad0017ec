"""transport: inbound journal, lease, bot state, unfiled uploads

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 23:26:19.547166
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bot_state",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "inbound_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("update_key", sa.String(length=128), nullable=False),
        sa.Column("chat_key", sa.String(length=64), nullable=True),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("received_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("replies", sa.Text(), nullable=True),
        sa.Column("handled_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("replied_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel", "update_key"),
    )
    with op.batch_alter_table("inbound_event", schema=None) as batch_op:
        batch_op.create_index("ix_inbound_event_status", ["status", "id"], unique=False)

    op.create_table(
        "lease",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("acquired_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("renewed_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "unfiled_upload",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("inbound_event_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("sender_external_id", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("received_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["inbound_event_id"],
            ["inbound_event.id"],
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
        ),
        sa.ForeignKeyConstraint(
            ["sha256"],
            ["stored_file.sha256"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("inbound_event_id"),
    )


def downgrade() -> None:
    op.drop_table("unfiled_upload")
    op.drop_table("lease")
    with op.batch_alter_table("inbound_event", schema=None) as batch_op:
        batch_op.drop_index("ix_inbound_event_status")

    op.drop_table("inbound_event")
    op.drop_table("bot_state")
