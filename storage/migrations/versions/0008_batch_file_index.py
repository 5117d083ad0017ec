"""intake: index batch files by batch (filing scanned the whole table)

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_batch_file_batch", "batch_file", ["batch_id"])


def downgrade() -> None:
    op.drop_index("ix_batch_file_batch", table_name="batch_file")
