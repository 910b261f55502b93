"""vocabulary checks: a CHECK on every column that holds one of the domain vocabularies

The value lists are written out here, not imported from the enums, so this migration keeps
meaning what it meant when it ran; tests/core/test_vocabulary.py asserts they equal the
enums. Adding a value to an enum needs a new migration that re-creates its constraint.

Constraints are named ck_<table>_<column> (the metadata naming convention; the models
declare the same ones). One ALTER TABLE per table, so each table is scanned once, under an
ACCESS EXCLUSIVE lock; it fails if a stored row holds a value outside the vocabulary.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEAD_STATUS = ("active", "bounced", "unsubscribed", "closed")
CHANNEL = ("email", "sms", "linkedin")
DIRECTION = ("inbound", "outbound")
SENT_BY = ("lead", "campaign", "team", "ai", "system")
LEAD_EVENT_KIND = ("open", "bounce")
QUEUE_STATUS = ("pending", "running", "succeeded", "dead", "ignored")
PROVIDER = ("emailbison", "ghl", "unipile")
ROLE = ("owner", "admin", "member")

# table -> (column, allowed values); the constraint is ck_<table>_<column>.
CHECKS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    # NULL passes a CHECK: a lead without an inbound message has no channel.
    "leads": (("status", LEAD_STATUS), ("last_inbound_channel", CHANNEL)),
    "messages": (("channel", CHANNEL), ("direction", DIRECTION), ("sent_by", SENT_BY)),
    "lead_events": (("kind", LEAD_EVENT_KIND),),
    "webhook_events": (("status", QUEUE_STATUS), ("provider", PROVIDER)),
    "jobs": (("status", QUEUE_STATUS),),
    "memberships": (("role", ROLE),),
}


def _values(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    for table, checks in CHECKS.items():
        adds = ", ".join(
            f"ADD CONSTRAINT ck_{table}_{column} CHECK ({column} IN {_values(values)})"
            for column, values in checks
        )
        op.execute(f"ALTER TABLE {table} {adds}")


def downgrade() -> None:
    for table, checks in reversed(CHECKS.items()):
        drops = ", ".join(f"DROP CONSTRAINT ck_{table}_{column}" for column, _ in checks)
        op.execute(f"ALTER TABLE {table} {drops}")
