"""review and deadlines: append-only reviews, the review claim and queue index, deadline extensions

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WAITING = "review_state = 'submitted' AND superseded_by_number IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("submission_version", schema=None) as batch_op:
        batch_op.add_column(sa.Column("review_claimed_by_person_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("review_claimed_until", storage.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            "fk_submission_version_review_claimed_by", "person", ["review_claimed_by_person_id"], ["id"]
        )
        batch_op.create_index(
            "ix_submission_review_queue",
            ["campaign_id", "created_at", "id"],
            unique=False,
            sqlite_where=sa.text(WAITING),
            postgresql_where=sa.text(WAITING),
        )
    op.create_table(
        "submission_review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(length=24), nullable=False),
        sa.Column("reason", sa.String(length=24), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reviewer_person_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=24), nullable=False),
        sa.Column("at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["reviewer_person_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["version_id"], ["submission_version.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_submission_review_version", "submission_review", ["version_id", "id"], unique=False)
    op.create_table(
        "deadline_extension",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("opd_id", sa.Integer(), nullable=True),
        sa.Column("deadline", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"]),
        sa.ForeignKeyConstraint(["opd_id"], ["opd.id"]),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_deadline_extension_campaign", "deadline_extension", ["campaign_id", "opd_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_deadline_extension_campaign", table_name="deadline_extension")
    op.drop_table("deadline_extension")
    op.drop_index("ix_submission_review_version", table_name="submission_review")
    op.drop_table("submission_review")
    with op.batch_alter_table("submission_version", schema=None) as batch_op:
        batch_op.drop_index("ix_submission_review_queue")
        batch_op.drop_constraint("fk_submission_version_review_claimed_by", type_="foreignkey")
        batch_op.drop_column("review_claimed_until")
        batch_op.drop_column("review_claimed_by_person_id")
