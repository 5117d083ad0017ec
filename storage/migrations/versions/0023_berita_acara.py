"""berita acara: the signed Berita Acara of a campaign's evaluasi mandiri (SOP step 6)

Revision ID: 0023
Revises: 0022
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signed_berita_acara",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("uploaded_by_person_id", sa.Integer(), nullable=False),
        sa.Column("uploaded_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"]),
        sa.ForeignKeyConstraint(["sha256"], ["stored_file.sha256"]),
        sa.ForeignKeyConstraint(["uploaded_by_person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_signed_berita_acara_campaign", "signed_berita_acara", ["campaign_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_signed_berita_acara_campaign", table_name="signed_berita_acara")
    op.drop_table("signed_berita_acara")
