"""timeline events, message renderings, notes, tags, read marks, list sort indexes

``lead_events`` becomes the lead's timeline of events: new kinds (click, unsubscribe,
operator changes, merge/split), an actor and a JSON ``data``; ``external_id`` is optional
(operator events have none) and ``occurred_at`` is always set. ``messages`` gains the HTML,
plain-text and visible (quotes and signature folded) renderings of the body. New tables:
``lead_notes``, ``tags``, ``lead_tags``, ``lead_reads``. New partial indexes on ``leads``
for ``sort=oldest_waiting`` and the per-user unread count.

The kind list is written out (see 0005): this migration keeps meaning what it meant.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEAD_EVENT_KIND_BEFORE = ("open", "bounce")
LEAD_EVENT_KIND = (
    "open",
    "bounce",
    "click",
    "unsubscribe",
    "status_change",
    "category_change",
    "assignee_change",
    "merge",
    "split",
)
# table -> (column, allowed values), as in 0005: the CHECKs this migration re-creates.
CHECKS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "lead_events": (("kind", LEAD_EVENT_KIND),),
}


def _values(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _kind_check(values: tuple[str, ...]) -> None:
    op.execute(
        "ALTER TABLE lead_events DROP CONSTRAINT ck_lead_events_kind, "
        f"ADD CONSTRAINT ck_lead_events_kind CHECK (kind IN {_values(values)})"
    )


def _created_at(name: str = "created_at") -> sa.Column[Any]:
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    referred = target.split(".")[0]
    return sa.ForeignKeyConstraint(
        [column], [target], name=op.f(f"fk_{table}_{column}_{referred}"), ondelete=ondelete
    )


def upgrade() -> None:
    # --- lead_events: the timeline's events ---------------------------------------------
    op.execute("UPDATE lead_events SET occurred_at = created_at WHERE occurred_at IS NULL")
    op.add_column("lead_events", sa.Column("actor_user_id", sa.UUID(), nullable=True))
    op.add_column(
        "lead_events",
        sa.Column(
            "data",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
    )
    op.alter_column("lead_events", "external_id", nullable=True)
    op.alter_column("lead_events", "occurred_at", nullable=False, server_default=sa.text("now()"))
    op.create_foreign_key(
        op.f("fk_lead_events_actor_user_id_users"),
        "lead_events",
        "users",
        ["actor_user_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.drop_index("ix_lead_events_lead_id", table_name="lead_events")
    op.create_index(
        "ix_lead_events_lead_id_occurred_at_id", "lead_events", ["lead_id", "occurred_at", "id"]
    )
    _kind_check(LEAD_EVENT_KIND)

    # --- messages: renderings ---------------------------------------------------------------
    for column in ("body_html", "body_text", "body_visible"):
        op.add_column("messages", sa.Column(column, sa.Text(), nullable=True))

    # --- notes, tags, read marks --------------------------------------------------------------
    op.create_table(
        "lead_notes",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("workspace_id", sa.UUID(), nullable=False),
        sa.Column("lead_id", sa.BigInteger(), nullable=False),
        sa.Column("author_user_id", sa.UUID(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        _created_at(),
        _created_at("updated_at"),
        _fk("lead_notes", "workspace_id", "workspaces.id", "CASCADE"),
        _fk("lead_notes", "lead_id", "leads.id", "CASCADE"),
        _fk("lead_notes", "author_user_id", "users.id", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_notes")),
    )
    op.create_index(
        "ix_lead_notes_lead_id_created_at_id", "lead_notes", ["lead_id", "created_at", "id"]
    )
    op.create_table(
        "tags",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("workspace_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        _created_at(),
        _fk("tags", "workspace_id", "workspaces.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tags")),
    )
    op.create_index("uq_tags_workspace_id_name", "tags", ["workspace_id", "name"], unique=True)
    op.create_table(
        "lead_tags",
        sa.Column("lead_id", sa.BigInteger(), nullable=False),
        sa.Column("tag_id", sa.BigInteger(), nullable=False),
        sa.Column("workspace_id", sa.UUID(), nullable=False),
        _created_at(),
        _fk("lead_tags", "lead_id", "leads.id", "CASCADE"),
        _fk("lead_tags", "tag_id", "tags.id", "CASCADE"),
        _fk("lead_tags", "workspace_id", "workspaces.id", "CASCADE"),
        sa.PrimaryKeyConstraint("lead_id", "tag_id", name=op.f("pk_lead_tags")),
    )
    op.create_index("ix_lead_tags_tag_id_lead_id", "lead_tags", ["tag_id", "lead_id"])
    op.create_table(
        "lead_reads",
        sa.Column("lead_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("workspace_id", sa.UUID(), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        _fk("lead_reads", "lead_id", "leads.id", "CASCADE"),
        _fk("lead_reads", "user_id", "users.id", "CASCADE"),
        _fk("lead_reads", "workspace_id", "workspaces.id", "CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "lead_id", name=op.f("pk_lead_reads")),
    )
    op.create_index("ix_lead_reads_lead_id", "lead_reads", ["lead_id"])

    # --- lead list: sort=oldest_waiting, unread count -----------------------------------------
    op.create_index(
        "ix_leads_waiting",
        "leads",
        ["workspace_id", "last_inbound_at", "id"],
        postgresql_where=sa.text("awaiting_reply"),
    )
    op.create_index(
        "ix_leads_last_inbound",
        "leads",
        ["workspace_id", sa.text("last_inbound_at DESC"), sa.text("id DESC")],
        postgresql_where=sa.text("last_inbound_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_leads_last_inbound", table_name="leads")
    op.drop_index("ix_leads_waiting", table_name="leads")
    op.drop_table("lead_reads")
    op.drop_table("lead_tags")
    op.drop_table("tags")
    op.drop_table("lead_notes")
    for column in ("body_visible", "body_text", "body_html"):
        op.drop_column("messages", column)
    # Events the old schema cannot hold (new kinds, no external id) are dropped.
    op.execute(
        f"DELETE FROM lead_events WHERE kind NOT IN {_values(LEAD_EVENT_KIND_BEFORE)} "
        "OR external_id IS NULL"
    )
    _kind_check(LEAD_EVENT_KIND_BEFORE)
    op.drop_index("ix_lead_events_lead_id_occurred_at_id", table_name="lead_events")
    op.create_index("ix_lead_events_lead_id", "lead_events", ["lead_id"])
    op.drop_constraint(
        op.f("fk_lead_events_actor_user_id_users"), "lead_events", type_="foreignkey"
    )
    op.alter_column("lead_events", "occurred_at", nullable=True, server_default=None)
    op.alter_column("lead_events", "external_id", nullable=False)
    op.drop_column("lead_events", "data")
    op.drop_column("lead_events", "actor_user_id")
