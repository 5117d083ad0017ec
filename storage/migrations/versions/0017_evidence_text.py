"""evidence text: the text of every stored file, the automatic check's findings per version, the search index,
and an index of submission files by hash

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_submission_file_sha256", "submission_file", ["sha256"], unique=False)
    op.create_table(
        "evidence_text",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=True),
        sa.Column("pages", sa.Integer(), nullable=True),
        sa.Column("ocr_confidence", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=True),
        sa.Column("screenshot", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("started_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("read_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["sha256"], ["stored_file.sha256"]),
        sa.PrimaryKeyConstraint("sha256"),
    )
    op.create_index("ix_evidence_text_state", "evidence_text", ["state"], unique=False)
    op.create_table(
        "evidence_check",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("checked_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["version_id"], ["submission_version.id"]),
        sa.PrimaryKeyConstraint("version_id"),
    )
    op.create_table(
        "evidence_finding",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("check", sa.String(length=24), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["sha256"], ["stored_file.sha256"]),
        sa.ForeignKeyConstraint(["version_id"], ["submission_version.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_evidence_finding_version", "evidence_finding", ["version_id", "id"], unique=False)
    # The search index (storage.models.SEARCH_INDEX_NAMES): per backend, outside the model.
    if op.get_bind().dialect.name == "sqlite":
        # Diacritics folded so "rekomendasi" finds "rekomendasí" from OCR; the hash is the row's key.
        op.execute(
            "CREATE VIRTUAL TABLE evidence_search USING fts5("
            "sha256 UNINDEXED, body, tokenize = 'unicode61 remove_diacritics 2')"
        )
    else:
        # 'simple': Indonesian has no stemmer in PostgreSQL; words are matched as written, like FTS5's.
        op.execute("CREATE INDEX ix_evidence_text_search ON evidence_text USING gin (to_tsvector('simple', body))")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE evidence_search")
    else:
        op.execute("DROP INDEX ix_evidence_text_search")
    op.drop_index("ix_evidence_finding_version", table_name="evidence_finding")
    op.drop_table("evidence_finding")
    op.drop_table("evidence_check")
    op.drop_index("ix_evidence_text_state", table_name="evidence_text")
    op.drop_table("evidence_text")
    op.drop_index("ix_submission_file_sha256", table_name="submission_file")
