"""administration and dead letters: invitations, webhook token rotation, queue attempts

- ``invitations`` (auth): one-time links into a workspace, token stored as sha256.
- ``workspaces.previous_webhook_token_hash`` / ``previous_webhook_token_expires_at``: the
  token before a rotation keeps working for a grace period.
- ``queue_attempts`` (queue engine): one row per attempt at a queue item, with its outcome
  and error (the dead-letter history).

The vocabularies are written out here (a migration keeps meaning what it meant when it ran).

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE = ("owner", "admin", "member")
ATTEMPT_OUTCOME = ("succeeded", "ignored", "retry", "dead", "lease_expired")


def _values(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    op.create_table(
        "invitations",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("workspace_id", sa.UUID(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.Text(), nullable=False),
        sa.Column("invited_by", sa.UUID(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_invitations_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["invited_by"],
            ["users.id"],
            name=op.f("fk_invitations_invited_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_invitations_token_hash")),
        sa.CheckConstraint(f"role IN {_values(ROLE)}", name=op.f("ck_invitations_role")),
    )
    op.create_index("ix_invitations_workspace_id", "invitations", ["workspace_id"])
    op.add_column("workspaces", sa.Column("previous_webhook_token_hash", sa.Text(), nullable=True))
    op.add_column(
        "workspaces",
        sa.Column("previous_webhook_token_expires_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "queue_attempts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("item_id", sa.BigInteger(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("worker", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "finished_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_attempts")),
        sa.CheckConstraint(
            f"outcome IN {_values(ATTEMPT_OUTCOME)}", name=op.f("ck_queue_attempts_outcome")
        ),
    )
    op.create_index(
        "ix_queue_attempts_source_item_id_id", "queue_attempts", ["source", "item_id", "id"]
    )
    op.create_index("ix_queue_attempts_finished_at", "queue_attempts", ["finished_at"])


def downgrade() -> None:
    op.drop_table("queue_attempts")
    op.drop_column("workspaces", "previous_webhook_token_expires_at")
    op.drop_column("workspaces", "previous_webhook_token_hash")
    op.drop_table("invitations")
