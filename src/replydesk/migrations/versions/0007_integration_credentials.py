"""integration credentials, health and the EmailBison host allowlist

Credentials hold non-secret settings in clear and the secret part only as a Fernet token
(core/crypto.py). Health rows hang off their credentials (deleted with them). The allowlist
is instance-level, seeded with the two hosts the agency uses. Value lists are written out
(see 0005); tests/core/test_vocabulary.py holds them to the enums.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INTEGRATION = ("emailbison", "ghl", "unipile", "slack")
HEALTH_STATUS = ("unknown", "ok", "degraded", "rate_limited", "disconnected", "auth_failed")
SEEDED_HOSTS = ("send.meetinboxxia.com", "send.foundersclubsend.com")


def _values(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _now() -> sa.TextClause:
    return sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "integration_credentials",
        sa.Column("workspace_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("settings", postgresql.JSONB(), nullable=False),
        sa.Column("secret_hint", sa.Text(), nullable=False),
        sa.Column("secret_ciphertext", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name="fk_integration_credentials_workspace_id_workspaces",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "provider", name="pk_integration_credentials"),
        sa.CheckConstraint(
            f"provider IN {_values(INTEGRATION)}", name="ck_integration_credentials_provider"
        ),
    )
    op.create_table(
        "integration_health",
        sa.Column("workspace_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("last_checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error_category", sa.Text(), nullable=True),
        sa.Column("last_error_message", sa.Text(), nullable=True),
        sa.Column("check_seq", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "provider"],
            ["integration_credentials.workspace_id", "integration_credentials.provider"],
            name="fk_integration_health_workspace_id_integration_credentials",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "provider", name="pk_integration_health"),
        sa.CheckConstraint(
            f"provider IN {_values(INTEGRATION)}", name="ck_integration_health_provider"
        ),
        sa.CheckConstraint(
            f"status IN {_values(HEALTH_STATUS)}", name="ck_integration_health_status"
        ),
    )
    op.create_table(
        "emailbison_hosts",
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("host", name="pk_emailbison_hosts"),
    )
    op.execute(
        "INSERT INTO emailbison_hosts (host) VALUES "
        + ", ".join(f"('{host}')" for host in SEEDED_HOSTS)
    )


def downgrade() -> None:
    op.drop_table("emailbison_hosts")
    op.drop_table("integration_health")
    op.drop_table("integration_credentials")
