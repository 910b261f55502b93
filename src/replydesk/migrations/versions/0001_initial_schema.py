"""initial schema: workspaces, auth, leads, messages, webhook_events, jobs

Index choices are explained next to each Index() in the domain models.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 07:35:30.292975
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=True),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "workspaces",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("webhook_token_hash", sa.Text(), nullable=False),
        sa.Column("emailbison_instance_url", sa.Text(), nullable=True),
        sa.Column("emailbison_workspace_id", sa.BigInteger(), nullable=True),
        sa.Column("ghl_location_id", sa.Text(), nullable=True),
        sa.Column("ghl_rsa_public_key", sa.Text(), nullable=True),
        sa.Column("ghl_ed25519_public_key", sa.Text(), nullable=True),
        sa.Column("unipile_account_id", sa.Text(), nullable=True),
        sa.Column("unipile_account_provider_id", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspaces")),
    )
    op.create_index(
        "ix_workspaces_ghl_location_id", "workspaces", ["ghl_location_id"], unique=False
    )
    op.create_index(
        "ix_workspaces_unipile_account_id", "workspaces", ["unipile_account_id"], unique=False
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("workspace_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_api_tokens_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index(
        "ix_api_tokens_workspace_id_user_id",
        "api_tokens",
        ["workspace_id", "user_id"],
        unique=False,
    )
    op.create_table(
        "jobs",
        sa.Column("workspace_id", sa.UUID(), nullable=True),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("dedupe_key", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("max_attempts", sa.Integer(), server_default="8", nullable=False),
        sa.Column(
            "run_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("locked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_by", sa.Text(), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_jobs_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_jobs_dedupe_key")),
    )
    op.create_index(
        "ix_jobs_claim",
        "jobs",
        ["run_at", "id"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_jobs_lease",
        "jobs",
        ["lease_expires_at"],
        unique=False,
        postgresql_where=sa.text("status = 'running'"),
    )
    op.create_index("ix_jobs_status_id", "jobs", ["status", "id"], unique=False)
    op.create_table(
        "leads",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("workspace_id", sa.UUID(), nullable=False),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("phone_e164", sa.Text(), nullable=True),
        sa.Column("linkedin_provider_id", sa.Text(), nullable=True),
        sa.Column("linkedin_profile_url", sa.Text(), nullable=True),
        sa.Column("ghl_contact_id", sa.Text(), nullable=True),
        sa.Column("emailbison_lead_id", sa.BigInteger(), nullable=True),
        sa.Column("first_name", sa.Text(), nullable=True),
        sa.Column("last_name", sa.Text(), nullable=True),
        sa.Column("company", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default="active", nullable=False),
        sa.Column("category", sa.Text(), nullable=True),
        sa.Column("sentiment", sa.Text(), nullable=True),
        sa.Column("untracked", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("snoozed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assignee_user_id", sa.UUID(), nullable=True),
        sa.Column("open_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("bounce_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_inbound_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_outbound_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_team_outbound_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_message_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["assignee_user_id"],
            ["users.id"],
            name=op.f("fk_leads_assignee_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_leads_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leads")),
    )
    op.create_index(
        "ix_leads_workspace_id_last_message_at_id",
        "leads",
        [
            "workspace_id",
            sa.literal_column("last_message_at DESC NULLS LAST"),
            sa.literal_column("id DESC"),
        ],
        unique=False,
    )
    op.create_index(
        "uq_leads_workspace_id_email",
        "leads",
        ["workspace_id", "email"],
        unique=True,
        postgresql_where=sa.text("email IS NOT NULL"),
    )
    op.create_index(
        "uq_leads_workspace_id_ghl_contact_id",
        "leads",
        ["workspace_id", "ghl_contact_id"],
        unique=True,
        postgresql_where=sa.text("ghl_contact_id IS NOT NULL"),
    )
    op.create_index(
        "uq_leads_workspace_id_linkedin_provider_id",
        "leads",
        ["workspace_id", "linkedin_provider_id"],
        unique=True,
        postgresql_where=sa.text("linkedin_provider_id IS NOT NULL"),
    )
    op.create_index(
        "uq_leads_workspace_id_phone_e164",
        "leads",
        ["workspace_id", "phone_e164"],
        unique=True,
        postgresql_where=sa.text("phone_e164 IS NOT NULL"),
    )
    op.create_table(
        "memberships",
        sa.Column("workspace_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_memberships_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_memberships_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "user_id", name=op.f("pk_memberships")),
    )
    op.create_index("ix_memberships_user_id", "memberships", ["user_id"], unique=False)
    op.create_table(
        "webhook_events",
        sa.Column("workspace_id", sa.UUID(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("dedupe_key", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("max_attempts", sa.Integer(), server_default="8", nullable=False),
        sa.Column(
            "run_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("locked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_by", sa.Text(), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_webhook_events_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_events")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_webhook_events_dedupe_key")),
    )
    op.create_index(
        "ix_webhook_events_claim",
        "webhook_events",
        ["run_at", "id"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_webhook_events_lease",
        "webhook_events",
        ["lease_expires_at"],
        unique=False,
        postgresql_where=sa.text("status = 'running'"),
    )
    op.create_index("ix_webhook_events_status_id", "webhook_events", ["status", "id"], unique=False)
    op.create_index(
        "ix_webhook_events_workspace_id_status_id",
        "webhook_events",
        ["workspace_id", "status", "id"],
        unique=False,
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("workspace_id", sa.UUID(), nullable=False),
        sa.Column("lead_id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("direction", sa.Text(), nullable=False),
        sa.Column("sent_by", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("emailbison_reply_id", sa.BigInteger(), nullable=True),
        sa.Column("emailbison_scheduled_email_id", sa.BigInteger(), nullable=True),
        sa.Column("ghl_message_id", sa.Text(), nullable=True),
        sa.Column("unipile_message_id", sa.Text(), nullable=True),
        sa.Column("ai_draft_id", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_messages_lead_id_leads"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_messages_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
    )
    op.create_index(
        "ix_messages_lead_id_occurred_at_id",
        "messages",
        ["lead_id", "occurred_at", "id"],
        unique=False,
    )
    op.create_index(
        "uq_messages_workspace_id_ai_draft_id",
        "messages",
        ["workspace_id", "ai_draft_id"],
        unique=True,
        postgresql_where=sa.text("ai_draft_id IS NOT NULL"),
    )
    op.create_index(
        "uq_messages_workspace_id_emailbison_reply_id",
        "messages",
        ["workspace_id", "emailbison_reply_id"],
        unique=True,
        postgresql_where=sa.text("emailbison_reply_id IS NOT NULL"),
    )
    op.create_index(
        "uq_messages_workspace_id_emailbison_scheduled_email_id",
        "messages",
        ["workspace_id", "emailbison_scheduled_email_id"],
        unique=True,
        postgresql_where=sa.text("emailbison_scheduled_email_id IS NOT NULL"),
    )
    op.create_index(
        "uq_messages_workspace_id_ghl_message_id",
        "messages",
        ["workspace_id", "ghl_message_id"],
        unique=True,
        postgresql_where=sa.text("ghl_message_id IS NOT NULL"),
    )
    op.create_index(
        "uq_messages_workspace_id_unipile_message_id",
        "messages",
        ["workspace_id", "unipile_message_id"],
        unique=True,
        postgresql_where=sa.text("unipile_message_id IS NOT NULL"),
    )
    # Wake sleeping workers on insert. A statement-level trigger fires once per INSERT,
    # inside the same transaction, so ingestion stays one round trip; PostgreSQL folds
    # identical notifications of one transaction into one.
    for table in ("webhook_events", "jobs"):
        op.execute(
            f"""
            CREATE FUNCTION {table}_notify() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_notify('replydesk_{table}', '');
                RETURN NULL;
            END $$
            """
        )
        op.execute(
            f"""
            CREATE TRIGGER {table}_notify AFTER INSERT ON {table}
                FOR EACH STATEMENT EXECUTE FUNCTION {table}_notify();
            """
        )


def downgrade() -> None:
    for table in ("webhook_events", "jobs"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_notify ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS {table}_notify()")
    op.drop_index(
        "uq_messages_workspace_id_unipile_message_id",
        table_name="messages",
        postgresql_where=sa.text("unipile_message_id IS NOT NULL"),
    )
    op.drop_index(
        "uq_messages_workspace_id_ghl_message_id",
        table_name="messages",
        postgresql_where=sa.text("ghl_message_id IS NOT NULL"),
    )
    op.drop_index(
        "uq_messages_workspace_id_emailbison_scheduled_email_id",
        table_name="messages",
        postgresql_where=sa.text("emailbison_scheduled_email_id IS NOT NULL"),
    )
    op.drop_index(
        "uq_messages_workspace_id_emailbison_reply_id",
        table_name="messages",
        postgresql_where=sa.text("emailbison_reply_id IS NOT NULL"),
    )
    op.drop_index(
        "uq_messages_workspace_id_ai_draft_id",
        table_name="messages",
        postgresql_where=sa.text("ai_draft_id IS NOT NULL"),
    )
    op.drop_index("ix_messages_lead_id_occurred_at_id", table_name="messages")
    op.drop_table("messages")
    op.drop_index("ix_webhook_events_workspace_id_status_id", table_name="webhook_events")
    op.drop_index("ix_webhook_events_status_id", table_name="webhook_events")
    op.drop_index(
        "ix_webhook_events_lease",
        table_name="webhook_events",
        postgresql_where=sa.text("status = 'running'"),
    )
    op.drop_index(
        "ix_webhook_events_claim",
        table_name="webhook_events",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_table("webhook_events")
    op.drop_index("ix_memberships_user_id", table_name="memberships")
    op.drop_table("memberships")
    op.drop_index(
        "uq_leads_workspace_id_phone_e164",
        table_name="leads",
        postgresql_where=sa.text("phone_e164 IS NOT NULL"),
    )
    op.drop_index(
        "uq_leads_workspace_id_linkedin_provider_id",
        table_name="leads",
        postgresql_where=sa.text("linkedin_provider_id IS NOT NULL"),
    )
    op.drop_index(
        "uq_leads_workspace_id_ghl_contact_id",
        table_name="leads",
        postgresql_where=sa.text("ghl_contact_id IS NOT NULL"),
    )
    op.drop_index(
        "uq_leads_workspace_id_email",
        table_name="leads",
        postgresql_where=sa.text("email IS NOT NULL"),
    )
    op.drop_index("ix_leads_workspace_id_last_message_at_id", table_name="leads")
    op.drop_table("leads")
    op.drop_index("ix_jobs_status_id", table_name="jobs")
    op.drop_index(
        "ix_jobs_lease", table_name="jobs", postgresql_where=sa.text("status = 'running'")
    )
    op.drop_index(
        "ix_jobs_claim", table_name="jobs", postgresql_where=sa.text("status = 'pending'")
    )
    op.drop_table("jobs")
    op.drop_index("ix_api_tokens_workspace_id_user_id", table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_index("ix_workspaces_unipile_account_id", table_name="workspaces")
    op.drop_index("ix_workspaces_ghl_location_id", table_name="workspaces")
    op.drop_table("workspaces")
    op.drop_table("users")
