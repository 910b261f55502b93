"""inbox counter rows: requires-attention counts kept by statement-level triggers

- leads.snooze_active: the snooze as a stored flag (true while ``snoozed_until`` is in the
  future as of the write). A BEFORE row trigger sets it whenever ``snoozed_until`` is
  written; the periodic ``leads.snooze_wake`` task flips it back when the time has passed,
  so the end of a snooze is a row change the counter triggers see. Two small partial
  indexes (only snoozed leads): the wake-up scan and the counts read's correction for
  snoozes that ended since the last wake-up.
- inbox_counters: per workspace, per slot, per (channel, category) the number of leads that
  require attention (awaiting a reply, status not unsubscribed/closed, newest inbound not an
  out-of-office auto-reply, not snooze_active). Counts read ``sum(n)`` over these rows.
- Statement-level AFTER INSERT/UPDATE/DELETE triggers on leads with transition tables
  aggregate the statement's delta per (workspace, channel, category) and upsert it into the
  transaction's slot: exact for every writer, including multi-row statements.
- inbox_counter_slot(ws): the transaction's slot of a workspace, claimed with
  pg_try_advisory_xact_lock, so no two open transactions ever write the same counter row:
  a counter row is never waited for, hence never part of a lock cycle with lead rows.

The predicate is written out (see 0005); inbox/models.py keeps the same text.

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ATTENTION = (
    "awaiting_reply AND status NOT IN ('unsubscribed', 'closed') "
    "AND (out_of_office_at IS NULL OR last_inbound_at > out_of_office_at)"
)
COUNTED = f"{ATTENTION} AND NOT snooze_active"
PREFERRED_SLOTS = 8
MAX_SLOTS = 64

_GROUPS = (
    "workspace_id, coalesce(last_inbound_channel, 'unknown') AS channel, "
    "coalesce(category, 'uncategorized') AS category"
)
# The statement's delta per (workspace, channel, category), by trigger event.
_DELTAS = {
    "insert": f"SELECT {_GROUPS}, count(*) AS n FROM new_rows WHERE {COUNTED} GROUP BY 1, 2, 3",
    "delete": f"SELECT {_GROUPS}, -count(*) AS n FROM old_rows WHERE {COUNTED} GROUP BY 1, 2, 3",
    "update": f"""SELECT workspace_id, channel, category, sum(n) AS n FROM (
                      SELECT {_GROUPS}, -1 AS n FROM old_rows WHERE {COUNTED}
                      UNION ALL
                      SELECT {_GROUPS}, 1 AS n FROM new_rows WHERE {COUNTED}
                  ) AS d GROUP BY 1, 2, 3 HAVING sum(n) <> 0""",
}
_REFERENCING = {
    "insert": "NEW TABLE AS new_rows",
    "delete": "OLD TABLE AS old_rows",
    "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
}


def upgrade() -> None:
    # No lead write between the initial count and the triggers.
    op.execute("LOCK TABLE leads IN SHARE ROW EXCLUSIVE MODE")
    op.add_column(
        "leads",
        sa.Column("snooze_active", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.execute("UPDATE leads SET snooze_active = true WHERE snoozed_until > now()")
    op.create_check_constraint(
        op.f("ck_leads_snooze_active"), "leads", "NOT snooze_active OR snoozed_until IS NOT NULL"
    )
    op.create_index(
        "ix_leads_snooze_wake",
        "leads",
        ["snoozed_until"],
        postgresql_where=sa.text("snooze_active"),
    )
    op.create_index(
        "ix_leads_snooze_ended",
        "leads",
        ["workspace_id", "snoozed_until"],
        postgresql_where=sa.text("snooze_active"),
    )
    op.create_table(
        "inbox_counters",
        sa.Column("workspace_id", sa.UUID(), nullable=False),
        sa.Column("slot", sa.SmallInteger(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("n", sa.BigInteger(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_inbox_counters_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "workspace_id", "slot", "channel", "category", name=op.f("pk_inbox_counters")
        ),
    )
    op.execute(
        """
        CREATE FUNCTION leads_snooze_active() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.snooze_active := NEW.snoozed_until IS NOT NULL AND NEW.snoozed_until > now();
            RETURN NEW;
        END $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER leads_snooze_active_insert BEFORE INSERT ON leads FOR EACH ROW
            WHEN (NEW.snoozed_until IS NOT NULL OR NEW.snooze_active)
            EXECUTE FUNCTION leads_snooze_active()
        """
    )
    op.execute(
        """
        CREATE TRIGGER leads_snooze_active_update BEFORE UPDATE OF snoozed_until ON leads
            FOR EACH ROW WHEN (OLD.snoozed_until IS DISTINCT FROM NEW.snoozed_until)
            EXECUTE FUNCTION leads_snooze_active()
        """
    )
    # The slots this transaction holds, as "<workspace>=<slot>;..." in a transaction-local
    # setting; a new workspace's slot is the first free one from pg_backend_pid() % 8 (a
    # try-lock never waits). All MAX_SLOTS busy: wait for the preferred one (the deadlock
    # detector then settles any cycle; 64 concurrent writers of one workspace).
    op.execute(
        f"""
        CREATE FUNCTION inbox_counter_slot(ws uuid) RETURNS smallint LANGUAGE plpgsql AS $$
        DECLARE
            held text := coalesce(current_setting('replydesk.inbox_counter_slots', true), '');
            tag text := ws::text || '=';
            at int := position(tag IN held);
            lock_key int := hashtext('inbox_counters ' || ws::text);
            first int := pg_backend_pid() % {PREFERRED_SLOTS};
            s int;
        BEGIN
            IF at > 0 THEN
                RETURN split_part(substr(held, at + length(tag)), ';', 1)::smallint;
            END IF;
            FOR i IN 0..{MAX_SLOTS - 1} LOOP
                s := (first + i) % {MAX_SLOTS};
                EXIT WHEN pg_try_advisory_xact_lock(lock_key, s);
                s := NULL;
            END LOOP;
            IF s IS NULL THEN
                s := first;
                PERFORM pg_advisory_xact_lock(lock_key, s);
            END IF;
            PERFORM set_config('replydesk.inbox_counter_slots', held || tag || s || ';', true);
            RETURN s;
        END $$
        """
    )
    for event, delta in _DELTAS.items():
        op.execute(
            f"""
            CREATE FUNCTION leads_inbox_counters_{event}() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO inbox_counters AS c (workspace_id, slot, channel, category, n)
                SELECT d.workspace_id, inbox_counter_slot(d.workspace_id), d.channel,
                       d.category, d.n
                  FROM ({delta}) AS d
                 WHERE d.n <> 0
                   AND EXISTS (SELECT 1 FROM workspaces w WHERE w.id = d.workspace_id)
                 ORDER BY d.workspace_id, d.channel, d.category
                ON CONFLICT (workspace_id, slot, channel, category)
                  DO UPDATE SET n = c.n + EXCLUDED.n;
                RETURN NULL;
            END $$
            """
        )
        op.execute(
            f"""
            CREATE TRIGGER leads_inbox_counters_{event} AFTER {event.upper()} ON leads
                REFERENCING {_REFERENCING[event]}
                FOR EACH STATEMENT EXECUTE FUNCTION leads_inbox_counters_{event}()
            """
        )
    op.execute(
        """
        CREATE FUNCTION leads_inbox_counters_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM inbox_counters;
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER leads_inbox_counters_truncate AFTER TRUNCATE ON leads
            FOR EACH STATEMENT EXECUTE FUNCTION leads_inbox_counters_truncate()
        """
    )
    op.execute(
        f"""
        INSERT INTO inbox_counters (workspace_id, slot, channel, category, n)
        SELECT workspace_id, 0, coalesce(last_inbound_channel, 'unknown'),
               coalesce(category, 'uncategorized'), count(*)
          FROM leads WHERE {COUNTED} GROUP BY 1, 3, 4
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS leads_inbox_counters_truncate ON leads")
    op.execute("DROP FUNCTION IF EXISTS leads_inbox_counters_truncate()")
    for event in _DELTAS:
        op.execute(f"DROP TRIGGER IF EXISTS leads_inbox_counters_{event} ON leads")
        op.execute(f"DROP FUNCTION IF EXISTS leads_inbox_counters_{event}()")
    op.execute("DROP FUNCTION IF EXISTS inbox_counter_slot(uuid)")
    op.execute("DROP TRIGGER IF EXISTS leads_snooze_active_update ON leads")
    op.execute("DROP TRIGGER IF EXISTS leads_snooze_active_insert ON leads")
    op.execute("DROP FUNCTION IF EXISTS leads_snooze_active()")
    op.drop_table("inbox_counters")
    op.drop_index("ix_leads_snooze_ended", table_name="leads")
    op.drop_index("ix_leads_snooze_wake", table_name="leads")
    op.drop_constraint(op.f("ck_leads_snooze_active"), "leads", type_="check")
    op.drop_column("leads", "snooze_active")
