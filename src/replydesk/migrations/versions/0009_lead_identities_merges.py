"""lead identities, merges and merge suggestions; workspace identity settings

One person across channels: ``lead_identities`` holds every hard identity of a lead (unique
per workspace, kind and value), replacing the per-column unique indexes on ``leads`` (the
columns stay as display values). ``lead_merges`` records merges and splits so they can be
undone; ``lead_merge_suggestions`` holds pairs an event's identities pointed at. Existing
leads' identities and messages' ``identity_id`` are backfilled. Value lists are written out
(see 0005); tests/core/test_vocabulary.py keeps them equal to the enums.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IDENTITY_KIND = (
    "email",
    "phone",
    "linkedin_id",
    "linkedin_url",
    "ghl_contact",
    "emailbison_lead",
)
MERGE_KIND = ("merge", "split")
SUGGESTION_REASON = ("shared_identity", "same_name")
OLD_UNIQUE = ("email", "phone_e164", "linkedin_provider_id", "ghl_contact_id")

LINKEDIN_PROFILE = "^(https?://)?([a-z]+\\.)?linkedin\\.com/in/([^/?#]+)"
# leads column → identity kind and the SQL that normalises it (as leads.identity does).
BACKFILL = (
    ("email", "lower(btrim(email))"),
    ("phone", "phone_e164"),
    ("linkedin_id", "linkedin_provider_id"),
    (
        "linkedin_url",
        f"CASE WHEN lower(linkedin_profile_url) ~ '{LINKEDIN_PROFILE}' THEN 'linkedin.com/in/' || "
        f"regexp_replace(lower(linkedin_profile_url), '{LINKEDIN_PROFILE}.*$', '\\3') END",
    ),
    ("ghl_contact", "ghl_contact_id"),
    ("emailbison_lead", "emailbison_lead_id::text"),
)
# Which identity a stored message came through, by channel (first match wins).
MESSAGE_IDENTITY = (
    ("email", ("email",)),
    ("sms", ("phone", "ghl_contact")),
    ("linkedin", ("linkedin_id", "linkedin_url")),
)


def _values(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    op.add_column(
        "workspaces",
        sa.Column("default_phone_region", sa.Text(), server_default="US", nullable=False),
    )
    op.add_column(
        "workspaces",
        sa.Column(
            "phone_variables",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text(
                "ARRAY['phone', 'mobile', 'phone_number', 'mobile_phone']::text[]"
            ),
            nullable=False,
        ),
    )
    op.add_column(
        "workspaces",
        sa.Column(
            "linkedin_variables",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("ARRAY['linkedin', 'linkedin_url', 'linkedin_profile']::text[]"),
            nullable=False,
        ),
    )

    op.create_table(
        "lead_identities",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("workspace_id", sa.UUID(), nullable=False),
        sa.Column("lead_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            f"kind IN {_values(IDENTITY_KIND)}", name=op.f("ck_lead_identities_kind")
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
            name=op.f("fk_lead_identities_lead_id_leads"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_lead_identities_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_identities")),
    )
    op.create_index(
        "uq_lead_identities_workspace_id_kind_value",
        "lead_identities",
        ["workspace_id", "kind", "value"],
        unique=True,
    )
    op.create_index("ix_lead_identities_lead_id", "lead_identities", ["lead_id"])
    op.create_index(
        "ix_lead_identities_search",
        "lead_identities",
        ["workspace_id", "value"],
        postgresql_ops={"value": "text_pattern_ops"},
    )

    op.add_column("messages", sa.Column("identity_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        op.f("fk_messages_identity_id_lead_identities"),
        "messages",
        "lead_identities",
        ["identity_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_index("ix_messages_identity_id", "messages", ["identity_id"])

    op.create_table(
        "lead_merges",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("workspace_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("surviving_lead_id", sa.BigInteger(), nullable=False),
        sa.Column("absorbed_lead_id", sa.BigInteger(), nullable=False),
        sa.Column("identity_id", sa.BigInteger(), nullable=True),
        sa.Column("actor_user_id", sa.UUID(), nullable=True),
        sa.Column("moved", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("absorbed_row", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("surviving_changes", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("undone_by_user_id", sa.UUID(), nullable=True),
        sa.CheckConstraint(f"kind IN {_values(MERGE_KIND)}", name=op.f("ck_lead_merges_kind")),
        sa.ForeignKeyConstraint(
            ["actor_user_id"],
            ["users.id"],
            name=op.f("fk_lead_merges_actor_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["undone_by_user_id"],
            ["users.id"],
            name=op.f("fk_lead_merges_undone_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_lead_merges_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_merges")),
    )
    op.create_index(
        "uq_lead_merges_absorbed_lead_id",
        "lead_merges",
        ["workspace_id", "absorbed_lead_id"],
        unique=True,
        postgresql_where=sa.text("undone_at IS NULL AND kind = 'merge'"),
    )
    op.create_index(
        "ix_lead_merges_surviving_lead_id", "lead_merges", ["workspace_id", "surviving_lead_id"]
    )

    op.create_table(
        "lead_merge_suggestions",
        sa.Column("workspace_id", sa.UUID(), nullable=False),
        sa.Column("lead_id", sa.BigInteger(), nullable=False),
        sa.Column("other_lead_id", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("identity_kind", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "lead_id < other_lead_id", name=op.f("ck_lead_merge_suggestions_ordered_pair")
        ),
        sa.CheckConstraint(
            f"reason IN {_values(SUGGESTION_REASON)}", name=op.f("ck_lead_merge_suggestions_reason")
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
            name=op.f("fk_lead_merge_suggestions_lead_id_leads"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["other_lead_id"],
            ["leads.id"],
            name=op.f("fk_lead_merge_suggestions_other_lead_id_leads"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_lead_merge_suggestions_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("lead_id", "other_lead_id", name=op.f("pk_lead_merge_suggestions")),
    )
    op.create_index(
        "ix_lead_merge_suggestions_other_lead_id", "lead_merge_suggestions", ["other_lead_id"]
    )

    # Backfill: every identity a lead already has (oldest lead wins a value two leads share,
    # possible only for the columns that had no unique index).
    for kind, expression in BACKFILL:
        op.execute(
            f"""
            INSERT INTO lead_identities (workspace_id, lead_id, kind, value)
            SELECT workspace_id, id, '{kind}', v FROM (
                SELECT workspace_id, id, {expression} AS v FROM leads) AS s
            WHERE v IS NOT NULL AND v <> '' ORDER BY id
            ON CONFLICT (workspace_id, kind, value) DO NOTHING
            """
        )
    for channel, kinds in MESSAGE_IDENTITY:
        for kind in kinds:
            op.execute(
                f"""
                UPDATE messages m SET identity_id = i.id FROM lead_identities i
                WHERE m.channel = '{channel}' AND m.identity_id IS NULL
                  AND i.lead_id = m.lead_id AND i.kind = '{kind}'
                """
            )
    for column in OLD_UNIQUE:
        op.drop_index(f"uq_leads_workspace_id_{column}", table_name="leads")


def downgrade() -> None:
    # Fails (unique violation) if a merge gave two leads' values to one column: by design.
    for column in OLD_UNIQUE:
        op.create_index(
            f"uq_leads_workspace_id_{column}",
            "leads",
            ["workspace_id", column],
            unique=True,
            postgresql_where=sa.text(f"{column} IS NOT NULL"),
        )
    op.drop_table("lead_merge_suggestions")
    op.drop_table("lead_merges")
    op.drop_index("ix_messages_identity_id", table_name="messages")
    op.drop_constraint(
        op.f("fk_messages_identity_id_lead_identities"), "messages", type_="foreignkey"
    )
    op.drop_column("messages", "identity_id")
    op.drop_table("lead_identities")
    for column in ("linkedin_variables", "phone_variables", "default_phone_region"):
        op.drop_column("workspaces", column)
