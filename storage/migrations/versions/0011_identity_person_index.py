"""outbox: index channel identities by person (claiming checks each message's person for a reachable account)

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_channel_identity_person", "channel_identity", ["person_id"])


def downgrade() -> None:
    op.drop_index("ix_channel_identity_person", table_name="channel_identity")
