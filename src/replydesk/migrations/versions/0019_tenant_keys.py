"""tenant keys: every primary and unique key of a tenant table includes workspace_id

Citus readiness (docs/scaling.md, decision 0024):

- surrogate primary keys ``(id)`` become ``(id, workspace_id)`` on the tenant tables whose
  workspace_id is NOT NULL (ids stay globally unique identity columns; ``id`` first, so every
  lookup and join by id alone keeps its index);
- every foreign key to them becomes composite, ``(workspace_id, lead_id) REFERENCES leads
  (workspace_id, id)``, so a row can no longer point at another workspace's row either;
  ``ON DELETE SET NULL`` keys clear only the id column (``SET NULL (col)``, PostgreSQL 15+);
- the link tables' keys are prefixed with workspace_id (lead_tags, lead_reads,
  lead_merge_suggestions);
- the permanent dedupe keys become ``(workspace_id, dedupe_key)``: webhook_events a plain
  unique constraint; alerts and jobs (nullable workspace_id: global alerts, instance jobs)
  ``NULLS NOT DISTINCT``, jobs' as a partial index (a job without a dedupe key is never
  deduplicated);
- queue_attempts gets the item's workspace_id (backfilled from the items still there).

Each new key is built as a unique index on existing data, then attached with
``ADD CONSTRAINT … USING INDEX``; the old keys imply the new ones, so the builds cannot fail.
Alembic runs this in one transaction (no CONCURRENTLY); the online procedure for a large
production database is in docs/scaling.md "Running the key migration online".

Revision ID: 0019
Revises: 0018
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Tenant tables (workspace_id NOT NULL) with a surrogate bigint id.
SURROGATE = (
    "leads",
    "messages",
    "lead_events",
    "lead_identities",
    "lead_merges",
    "lead_notes",
    "tags",
    "api_tokens",
    "invitations",
    "webhook_events",
    "drafts",
    "meetings",
    "category_overrides",
    "lead_channel_quarantines",
)

# Foreign keys to those tables: (table, column, referred table, ON DELETE). Names stay
# fk_<table>_<column>_<referred>.
FOREIGN_KEYS = (
    ("messages", "lead_id", "leads", "CASCADE"),
    ("messages", "identity_id", "lead_identities", "SET NULL"),
    ("lead_events", "lead_id", "leads", "CASCADE"),
    ("lead_notes", "lead_id", "leads", "CASCADE"),
    ("lead_tags", "lead_id", "leads", "CASCADE"),
    ("lead_tags", "tag_id", "tags", "CASCADE"),
    ("lead_reads", "lead_id", "leads", "CASCADE"),
    ("lead_identities", "lead_id", "leads", "CASCADE"),
    ("lead_merge_suggestions", "lead_id", "leads", "CASCADE"),
    ("lead_merge_suggestions", "other_lead_id", "leads", "CASCADE"),
    ("lead_channel_quarantines", "lead_id", "leads", "CASCADE"),
    ("lead_channel_quarantines", "message_id", "messages", "SET NULL"),
    ("category_overrides", "lead_id", "leads", "CASCADE"),
    ("drafts", "lead_id", "leads", "CASCADE"),
    ("drafts", "in_reply_to_message_id", "messages", "CASCADE"),
    ("drafts", "reply_message_id", "messages", "SET NULL"),
    ("meetings", "lead_id", "leads", "CASCADE"),
    # Tables and columns of 0016 (sequences) and 0017 (one answer per inbound message).
    ("followups", "lead_id", "leads", "CASCADE"),
    ("followup_steps", "lead_id", "leads", "CASCADE"),
    ("followup_steps", "reply_message_id", "messages", "SET NULL"),
    ("messages", "answers_message_id", "messages", "SET NULL"),
)

# Link tables: their primary key columns before (workspace_id is prefixed).
LINKS = {
    "lead_tags": ("lead_id", "tag_id"),
    "lead_reads": ("user_id", "lead_id"),
    "lead_merge_suggestions": ("lead_id", "other_lead_id"),
}

# (table, new key, old key, NULLS NOT DISTINCT, partial predicate of the new key)
DEDUPE = (
    ("webhook_events", "uq_webhook_events_workspace_id_dedupe_key", "uq_webhook_events_dedupe_key",
     False, None),
    ("alerts", "uq_alerts_workspace_id_dedupe_key", "uq_alerts_dedupe_key", True, None),
    ("jobs", "uq_jobs_workspace_id_dedupe_key", "uq_jobs_dedupe_key", True,
     "dedupe_key IS NOT NULL"),
)  # fmt: skip


def _fk_name(table: str, column: str, referred: str) -> str:
    return f"fk_{table}_{column}_{referred}"


def _swap_primary_key(table: str, columns: Sequence[str]) -> None:
    op.execute(f"CREATE UNIQUE INDEX pk_{table}_next ON {table} ({', '.join(columns)})")
    op.execute(f"ALTER TABLE {table} DROP CONSTRAINT pk_{table}")
    # USING INDEX renames the index to the constraint's name.
    op.execute(
        f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY USING INDEX pk_{table}_next"
    )


def upgrade() -> None:
    # Foreign keys first: they depend on the primary keys being replaced.
    for table, column, referred, _ in FOREIGN_KEYS:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {_fk_name(table, column, referred)}")
    for table in SURROGATE:
        _swap_primary_key(table, ("id", "workspace_id"))
    for table, columns in LINKS.items():
        _swap_primary_key(table, ("workspace_id", *columns))
    for table, column, referred, on_delete in FOREIGN_KEYS:
        # SET NULL names the id column: workspace_id is NOT NULL and part of the row's own key.
        action = f"SET NULL ({column})" if on_delete == "SET NULL" else on_delete
        name = _fk_name(table, column, referred)
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY (workspace_id, {column}) "
            f"REFERENCES {referred} (workspace_id, id) ON DELETE {action} NOT VALID"
        )
        op.execute(f"ALTER TABLE {table} VALIDATE CONSTRAINT {name}")

    for table, new, old, nulls_not_distinct, where in DEDUPE:
        nulls = " NULLS NOT DISTINCT" if nulls_not_distinct else ""
        partial = f" WHERE {where}" if where else ""
        op.execute(
            f"CREATE UNIQUE INDEX {new} ON {table} (workspace_id, dedupe_key){nulls}{partial}"
        )
        if where is None:
            op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {new} UNIQUE USING INDEX {new}")
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {old}")

    # The attempt carries its item's workspace (NULL for instance jobs, and for attempts
    # whose item retention already pruned).
    op.execute("ALTER TABLE queue_attempts ADD COLUMN workspace_id uuid")
    for source in ("webhook_events", "jobs"):
        op.execute(
            f"UPDATE queue_attempts AS a SET workspace_id = q.workspace_id FROM {source} AS q "
            f"WHERE a.source = '{source}' AND q.id = a.item_id AND q.workspace_id IS NOT NULL"
        )


def downgrade() -> None:
    op.execute("ALTER TABLE queue_attempts DROP COLUMN workspace_id")

    for table, new, old, _, where in DEDUPE:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {old} UNIQUE (dedupe_key)")
        if where is None:
            op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {new}")
        else:
            op.execute(f"DROP INDEX {new}")

    for table, column, referred, _ in FOREIGN_KEYS:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {_fk_name(table, column, referred)}")
    for table, columns in LINKS.items():
        _swap_primary_key(table, columns)
    for table in SURROGATE:
        _swap_primary_key(table, ("id",))
    for table, column, referred, on_delete in FOREIGN_KEYS:
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {_fk_name(table, column, referred)} "
            f"FOREIGN KEY ({column}) REFERENCES {referred} (id) ON DELETE {on_delete}"
        )
