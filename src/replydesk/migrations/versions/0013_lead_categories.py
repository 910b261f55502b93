"""lead categories: one vocabulary, who set it, confidence, out-of-office; override examples

- leads.category is held to the category vocabulary (CHECK). Existing free-text categories
  are mapped: their trimmed, lower-cased, ``_``-joined form when it is a word of the
  vocabulary, else ``other``; each mapped value that changed is kept as a
  ``category_change`` timeline event ({"from", "to"}, no actor), so nothing is lost.
- category_source (provider | rules | ai | manual), category_confidence (0-1),
  category_at (the time of what set it), category_message_id (the inbound message an
  automatic category came from). Existing categories: ``manual`` when an operator's
  category_change event set that value, else ``provider`` (EmailBison LEAD_INTERESTED was
  the only other writer).
- out_of_office_until (the stated return date) and out_of_office_at (the newest inbound
  auto-reply's time): a lead whose newest inbound message is an auto-reply does not
  require attention, so ix_leads_attention's predicate gains
  ``(out_of_office_at IS NULL OR last_inbound_at > out_of_office_at)``.
- category_overrides: each operator change of an automatic category, a labelled example.

Value lists are written out (see 0005); tests/core/test_vocabulary.py keeps them equal to
the enums.

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEAD_CATEGORY = (
    "interested",
    "meeting_request",
    "question",
    "referral",
    "not_interested",
    "wrong_person",
    "out_of_office",
    "unsubscribe",
    "other",
)
CATEGORY_SOURCE = ("provider", "rules", "ai", "manual")
# table -> (column, allowed values); the constraint is ck_<table>_<column> (as in 0005).
CHECKS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "leads": (("category", LEAD_CATEGORY), ("category_source", CATEGORY_SOURCE)),
}
OLD_ATTENTION = "awaiting_reply AND status NOT IN ('unsubscribed', 'closed')"
NEW_ATTENTION = (
    "awaiting_reply AND status NOT IN ('unsubscribed', 'closed') "
    "AND (out_of_office_at IS NULL OR last_inbound_at > out_of_office_at)"
)
_NORMALISED = "regexp_replace(lower(btrim(category)), '[\\s-]+', '_', 'g')"


def _values(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _attention_index(predicate: str) -> None:
    op.drop_index("ix_leads_attention", table_name="leads")
    op.create_index(
        "ix_leads_attention",
        "leads",
        [
            "workspace_id",
            sa.literal_column("last_message_at DESC NULLS LAST"),
            sa.literal_column("id DESC"),
        ],
        postgresql_include=["snoozed_until", "last_inbound_channel", "category"],
        postgresql_where=sa.text(predicate),
    )


def upgrade() -> None:
    op.add_column("leads", sa.Column("category_source", sa.Text(), nullable=True))
    op.add_column("leads", sa.Column("category_confidence", sa.Float(), nullable=True))
    op.add_column("leads", sa.Column("category_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("leads", sa.Column("category_message_id", sa.BigInteger(), nullable=True))
    op.add_column("leads", sa.Column("out_of_office_until", sa.Date(), nullable=True))
    op.add_column("leads", sa.Column("out_of_office_at", sa.DateTime(timezone=True), nullable=True))

    # Free-text categories → the vocabulary, each change kept on the timeline.
    op.execute(
        f"""
        WITH mapped AS (
            SELECT id, workspace_id, category AS old,
                   CASE WHEN {_NORMALISED} IN {_values(LEAD_CATEGORY)} THEN {_NORMALISED}
                        ELSE 'other' END AS new
              FROM leads WHERE category IS NOT NULL
        ), changed AS (
            UPDATE leads l SET category = m.new FROM mapped m
             WHERE l.id = m.id AND m.old IS DISTINCT FROM m.new
            RETURNING l.id, l.workspace_id, m.old, m.new
        )
        INSERT INTO lead_events (workspace_id, lead_id, kind, data)
        SELECT workspace_id, id, 'category_change',
               jsonb_build_object('from', old, 'to', new, 'migration', '0013')
          FROM changed
        """
    )
    op.execute(
        """
        UPDATE leads l SET
            category_source = CASE WHEN EXISTS (
                SELECT 1 FROM lead_events e
                 WHERE e.lead_id = l.id AND e.kind = 'category_change'
                   AND e.actor_user_id IS NOT NULL AND e.data->>'to' = l.category)
                THEN 'manual' ELSE 'provider' END,
            category_at = l.updated_at
         WHERE l.category IS NOT NULL
        """
    )
    for table, checks in CHECKS.items():
        for column, values in checks:
            op.create_check_constraint(
                op.f(f"ck_{table}_{column}"), table, f"{column} IN {_values(values)}"
            )
    op.create_check_constraint(
        op.f("ck_leads_category_confidence"),
        "leads",
        "category_confidence >= 0 AND category_confidence <= 1",
    )
    _attention_index(NEW_ATTENTION)

    op.create_table(
        "category_overrides",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("workspace_id", sa.UUID(), nullable=False),
        sa.Column("lead_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("automatic_category", sa.Text(), nullable=False),
        sa.Column("automatic_source", sa.Text(), nullable=False),
        sa.Column("automatic_confidence", sa.Float(), nullable=True),
        sa.Column("manual_category", sa.Text(), nullable=False),
        sa.Column("actor_user_id", sa.UUID(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_category_overrides_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
            name=op.f("fk_category_overrides_lead_id_leads"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["actor_user_id"],
            ["users.id"],
            name=op.f("fk_category_overrides_actor_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_category_overrides")),
        sa.CheckConstraint(
            f"automatic_category IN {_values(LEAD_CATEGORY)}",
            name=op.f("ck_category_overrides_automatic_category"),
        ),
        sa.CheckConstraint(
            f"manual_category IN {_values(LEAD_CATEGORY)}",
            name=op.f("ck_category_overrides_manual_category"),
        ),
        sa.CheckConstraint(
            f"automatic_source IN {_values(CATEGORY_SOURCE)}",
            name=op.f("ck_category_overrides_automatic_source"),
        ),
    )
    op.create_index("ix_category_overrides_lead_id", "category_overrides", ["lead_id"])
    op.create_index(
        "ix_category_overrides_workspace_id_created_at",
        "category_overrides",
        ["workspace_id", "created_at"],
    )


def downgrade() -> None:
    op.drop_table("category_overrides")
    _attention_index(OLD_ATTENTION)
    for name in ("category_confidence", "category_source", "category"):
        op.drop_constraint(op.f(f"ck_leads_{name}"), "leads", type_="check")
    for column in (
        "out_of_office_at",
        "out_of_office_until",
        "category_message_id",
        "category_at",
        "category_confidence",
        "category_source",
    ):
        op.drop_column("leads", column)
