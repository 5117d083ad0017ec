"""console: the one shared console person of older shells gives up its roles (each shell role is a person now)

Before, `monev shell --as ROLE[:OPD]` acted as one person per unix user (console identity `<user>`) that kept
every role ever asked for, so trying `--as opd:DINKES` made the server's operator a DINKES liaison for good.
Each session now acts as a console person of its own (`<user>/<role>[:<OPD>]`) and no session acts as the
shared one again: its active roles are revoked (audited as `revoke`, with no actor: the upgrade did it), and
its messages still waiting are recorded unreachable, as a process without the console channel used to.

Revision ID: 0013
Revises: 0011
"""

import json
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0013"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

identity = sa.table("channel_identity", sa.column("person_id"), sa.column("channel"), sa.column("external_id"))
assignment = sa.table(
    "role_assignment",
    sa.column("id"),
    sa.column("person_id"),
    sa.column("role"),
    sa.column("opd_id"),
    sa.column("revoked_at", UTCDateTime()),
)
opd = sa.table("opd", sa.column("id"), sa.column("code"))
audit = sa.table(
    "audit_entry",
    sa.column("at", UTCDateTime()),
    sa.column("actor_person_id"),
    sa.column("action"),
    sa.column("object_type"),
    sa.column("object_id"),
    sa.column("details"),
)
message = sa.table("outbox_message", sa.column("person_id"), sa.column("status"), sa.column("last_error"))


def upgrade() -> None:
    bind = op.get_bind()
    now = datetime.now(UTC)
    # A unix user name holds no "/": the identities without one are the shared persons of older shells.
    shared = sa.select(identity.c.person_id).where(
        identity.c.channel == "console", ~identity.c.external_id.contains("/")
    )
    held = bind.execute(
        sa.select(assignment.c.id, assignment.c.person_id, assignment.c.role, opd.c.code)
        .select_from(assignment.outerjoin(opd, opd.c.id == assignment.c.opd_id))
        .where(assignment.c.person_id.in_(shared), assignment.c.revoked_at.is_(None))
        .order_by(assignment.c.id)
    ).all()
    if held:
        bind.execute(sa.update(assignment).where(assignment.c.id.in_([r.id for r in held])).values(revoked_at=now))
        bind.execute(
            sa.insert(audit),
            [
                {
                    "at": now,
                    "actor_person_id": None,
                    "action": "revoke",
                    "object_type": "person",
                    "object_id": str(r.person_id),
                    "details": json.dumps(
                        {"opd": r.code, "reason": "console_person_per_role", "role_revoked": r.role}, sort_keys=True
                    ),
                }
                for r in held
            ],
        )
    bind.execute(
        sa.update(message)
        .where(message.c.person_id.in_(shared), message.c.status.in_(("pending", "sending")))
        .values(status="unreachable", last_error="console person of older shells, replaced by one per role")
    )


def downgrade() -> None:
    """Nothing to undo: the revocations are history, and older code would give the roles again on its next use."""
