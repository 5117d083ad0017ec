"""intake: a batch's OPD and campaign may be chosen after its files arrive (liaisons of several OPDs)

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("upload_batch", schema=None) as batch_op:
        batch_op.alter_column("opd_id", existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column("campaign_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("upload_batch", schema=None) as batch_op:
        batch_op.alter_column("campaign_id", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("opd_id", existing_type=sa.Integer(), nullable=False)
