"""inbox: browser sessions, login throttles, counts cache, lead totals, attention indexes

- leads.last_inbound_channel: channel of the newest inbound message (set by event
  processing), so counts break down by channel without reading messages.
- leads.awaiting_reply: STORED generated boolean "the lead wrote last", the base of the
  partial index behind counts and the requires_attention list.
- workspace_lead_totals + statement-level triggers: total_leads without counting leads.
- inbox_counts_cache: the last good counts per workspace, served with stale=true when the
  counts query times out.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ATTENTION_PREDICATE = "awaiting_reply AND status NOT IN ('unsubscribed', 'closed')"
LEAD_TOTAL_SLOTS = 8


def upgrade() -> None:
    # --- auth -----------------------------------------------------------------------------
    op.create_table(
        "browser_sessions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("token_hash", sa.Text(), nullable=False),
        sa.Column("next_token_hash", sa.Text(), nullable=True),
        sa.Column("next_issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("previous_token_hash", sa.Text(), nullable=True),
        sa.Column("csrf_token_hash", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "refreshed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_browser_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_browser_sessions")),
        # Every authenticated request looks the session up by the hash of its cookie.
        sa.UniqueConstraint("token_hash", name=op.f("uq_browser_sessions_token_hash")),
    )
    # Two-phase rotation: the issued-but-unconfirmed cookie, and the pre-promotion one
    # (accepted for a grace period, for requests in flight). Both are looked up by hash.
    op.create_index(
        "uq_browser_sessions_next_token_hash",
        "browser_sessions",
        ["next_token_hash"],
        unique=True,
        postgresql_where=sa.text("next_token_hash IS NOT NULL"),
    )
    op.create_index(
        "uq_browser_sessions_previous_token_hash",
        "browser_sessions",
        ["previous_token_hash"],
        unique=True,
        postgresql_where=sa.text("previous_token_hash IS NOT NULL"),
    )
    # Sign-out-everywhere and the users FK cascade.
    op.create_index("ix_browser_sessions_user_id", "browser_sessions", ["user_id"])
    # Purging expired sessions in small batches.
    op.create_index("ix_browser_sessions_expires_at", "browser_sessions", ["expires_at"])

    op.create_table(
        "login_throttles",
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("key_hash", sa.Text(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        # The upsert target: one counter row per (scope, key, window).
        sa.PrimaryKeyConstraint(
            "scope", "key_hash", "window_start", name=op.f("pk_login_throttles")
        ),
    )
    # Purging old windows.
    op.create_index("ix_login_throttles_window_start", "login_throttles", ["window_start"])

    # --- leads: rollup columns the inbox reads -------------------------------------------
    op.add_column("leads", sa.Column("last_inbound_channel", sa.Text(), nullable=True))
    op.add_column(
        "leads",
        sa.Column(
            "awaiting_reply",
            sa.Boolean(),
            sa.Computed(
                "last_inbound_at IS NOT NULL AND "
                "(last_team_outbound_at IS NULL OR last_inbound_at > last_team_outbound_at)",
                persisted=True,
            ),
            nullable=False,
        ),
    )
    # Requires attention (minus the snooze, which depends on now()): the counts query
    # index-only-scans the workspace's entries (snooze/channel/category INCLUDEd) and the
    # requires_attention list walks it in keyset order. Only leads awaiting a reply are in
    # it, so its size follows the operators' backlog, not the number of leads.
    op.create_index(
        "ix_leads_attention",
        "leads",
        [
            "workspace_id",
            sa.literal_column("last_message_at DESC NULLS LAST"),
            sa.literal_column("id DESC"),
        ],
        postgresql_include=["snoozed_until", "last_inbound_channel", "category"],
        postgresql_where=sa.text(ATTENTION_PREDICATE),
    )
    # Prefix search (q=): text_pattern_ops so LIKE 'abc%' uses the index in any collation.
    op.create_index(
        "ix_leads_search_email",
        "leads",
        ["workspace_id", "email"],
        postgresql_ops={"email": "text_pattern_ops"},
    )
    for name, expression in (
        ("full_name", "lower(coalesce(first_name, '') || ' ' || coalesce(last_name, ''))"),
        ("last_name", "lower(last_name)"),
        ("company", "lower(company)"),
    ):
        op.execute(
            f"CREATE INDEX ix_leads_search_{name} ON leads "
            f"(workspace_id, {expression} text_pattern_ops)"
        )
    # Operator event list without a status filter, newest first.
    op.create_index("ix_webhook_events_workspace_id_id", "webhook_events", ["workspace_id", "id"])

    # --- counts ---------------------------------------------------------------------------
    op.create_table(
        "inbox_counts_cache",
        sa.Column("workspace_id", sa.UUID(), nullable=False),
        sa.Column("counts", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_inbox_counts_cache_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_inbox_counts_cache")),
    )
    op.create_table(
        "workspace_lead_totals",
        sa.Column("workspace_id", sa.UUID(), nullable=False),
        sa.Column("slot", sa.SmallInteger(), nullable=False),
        sa.Column("lead_count", sa.BigInteger(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_workspace_lead_totals_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "slot", name=op.f("pk_workspace_lead_totals")),
    )
    # Deferred row triggers: the counter changes at COMMIT, after every lead lock the
    # transaction needs is already held, and each transaction uses one slot (its backend's).
    # So a counter row is never held while waiting for a lead, and no transaction holds two
    # counter rows: no lock cycle is possible. (Statement-level triggers keyed on lead id
    # deadlocked when one transaction, e.g. a worker group, inserted leads in several
    # statements.) Slots spread concurrent committers of one workspace over several rows.
    # INSERT … ON CONFLICT DO UPDATE fires AFTER INSERT only for really inserted rows.
    for name, delta in (("insert", "1"), ("delete", "-1")):
        row = "NEW" if name == "insert" else "OLD"
        op.execute(
            f"""
            CREATE FUNCTION leads_totals_{name}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO workspace_lead_totals AS t (workspace_id, slot, lead_count)
                SELECT {row}.workspace_id, (pg_backend_pid() % {LEAD_TOTAL_SLOTS})::smallint,
                       {delta}
                 WHERE EXISTS (SELECT 1 FROM workspaces w WHERE w.id = {row}.workspace_id)
                ON CONFLICT (workspace_id, slot)
                  DO UPDATE SET lead_count = t.lead_count + EXCLUDED.lead_count;
                RETURN NULL;
            END $$
            """
        )
        op.execute(
            f"""
            CREATE CONSTRAINT TRIGGER leads_totals_{name} AFTER {name.upper()} ON leads
                DEFERRABLE INITIALLY DEFERRED
                FOR EACH ROW EXECUTE FUNCTION leads_totals_{name}()
            """
        )
    op.execute(
        """
        CREATE FUNCTION leads_totals_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM workspace_lead_totals;
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER leads_totals_truncate AFTER TRUNCATE ON leads
            FOR EACH STATEMENT EXECUTE FUNCTION leads_totals_truncate()
        """
    )
    op.execute(
        f"""
        INSERT INTO workspace_lead_totals (workspace_id, slot, lead_count)
        SELECT workspace_id, (id % {LEAD_TOTAL_SLOTS})::smallint, count(*)
          FROM leads GROUP BY 1, 2
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS leads_totals_truncate ON leads")
    op.execute("DROP TRIGGER IF EXISTS leads_totals_delete ON leads")
    op.execute("DROP TRIGGER IF EXISTS leads_totals_insert ON leads")
    op.execute("DROP FUNCTION IF EXISTS leads_totals_truncate()")
    op.execute("DROP FUNCTION IF EXISTS leads_totals_delete()")
    op.execute("DROP FUNCTION IF EXISTS leads_totals_insert()")
    op.drop_table("workspace_lead_totals")
    op.drop_table("inbox_counts_cache")
    op.drop_index("ix_webhook_events_workspace_id_id", table_name="webhook_events")
    op.drop_index("ix_leads_search_company", table_name="leads")
    op.drop_index("ix_leads_search_last_name", table_name="leads")
    op.drop_index("ix_leads_search_full_name", table_name="leads")
    op.drop_index("ix_leads_search_email", table_name="leads")
    op.drop_index("ix_leads_attention", table_name="leads")
    op.drop_column("leads", "awaiting_reply")
    op.drop_column("leads", "last_inbound_channel")
    op.drop_index("ix_login_throttles_window_start", table_name="login_throttles")
    op.drop_table("login_throttles")
    op.drop_index("ix_browser_sessions_expires_at", table_name="browser_sessions")
    op.drop_index("ix_browser_sessions_user_id", table_name="browser_sessions")
    op.drop_index("uq_browser_sessions_previous_token_hash", table_name="browser_sessions")
    op.drop_index("uq_browser_sessions_next_token_hash", table_name="browser_sessions")
    op.drop_table("browser_sessions")
