"""Citus-readiness (docs/scaling.md): every tenant table carries ``workspace_id``, its primary
and unique keys include it, and the SQL we can see filters on it.

Read from pg_catalog on the migrated database, so a migration that adds a table or a key is
checked as it is, not as the models say. Every exception is listed with its reason; a listed
exception that no longer exists fails too, so the lists shrink as the remaining work
(docs/scaling.md "Remaining work") is done.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import replydesk
from tests.support.queue import fetch

# Tables without workspace_id, and why.
INSTANCE_TABLES = {
    "workspaces": "the tenants themselves: the distribution key is their id",
    "users": "people, who may belong to several workspaces (memberships carry workspace_id)",
    "browser_sessions": "a signed-in user, across their workspaces",
    "login_throttles": "per client IP and account, before any workspace is known",
    "emailbison_hosts": "instance-level allowlist of EmailBison hosts",
    "scheduler_runs": "instance-level periodic task slots",
    "alembic_version": "Alembic's schema version",
}
# Tenant data without workspace_id yet: remaining work (docs/scaling.md).
MISSING_WORKSPACE_ID: dict[str, str] = {}
# Tenant tables whose workspace_id may be NULL.
NULLABLE_WORKSPACE_ID = {
    "jobs": "instance jobs (no workspace) exist; sharded, they would live in a local table",
    "alerts": "global alerts (workspace NULL, dedupe key 'global:…')",
    "queue_attempts": "copied from the item (migration 0019): NULL for instance jobs' attempts "
    "and for attempts older than 0019 whose item retention had pruned",
}
# Primary/unique keys of tenant tables without workspace_id, and why (docs/scaling.md).
KEYS_WITHOUT_WORKSPACE_ID = {
    # A primary key's columns are NOT NULL: tables with instance-level rows keep (id).
    "pk_alerts": "global alerts have no workspace; sharded, they move to a coordinator-local "
    "table and the key becomes (id, workspace_id)",
    "pk_jobs": "instance jobs have no workspace; sharded, they move to a coordinator-local "
    "table and the key becomes (id, workspace_id)",
    "pk_queue_attempts": "attempts of instance jobs have no workspace (as pk_jobs)",
    # Global lookups by a secret's hash before the workspace is known.
    "uq_api_tokens_token_hash": "bearer token lookup; a Citus reference/lookup table",
    "uq_invitations_token_hash": "accept link lookup; a Citus reference/lookup table",
}

_TABLES = """
SELECT c.relname AS name,
       a.attname IS NOT NULL AS has_ws,
       coalesce(a.attnotnull, false) AS ws_not_null
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attribute a
    ON a.attrelid = c.oid AND a.attname = 'workspace_id' AND NOT a.attisdropped
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
"""

_KEYS = """
SELECT t.relname AS tbl, i.relname AS key,
       array_agg(a.attname ORDER BY k.ord) AS columns
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, ord)
LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
WHERE n.nspname = 'public' AND (x.indisunique OR x.indisprimary)
GROUP BY t.relname, i.relname
"""


async def _tables(url: str) -> dict[str, tuple[bool, bool]]:
    return {r["name"]: (r["has_ws"], r["ws_not_null"]) for r in await fetch(url, _TABLES)}


async def test_every_tenant_table_carries_workspace_id(database_url: str) -> None:
    tables = await _tables(database_url)
    without = {name for name, (has_ws, _) in tables.items() if not has_ws}
    assert without == set(INSTANCE_TABLES) | set(MISSING_WORKSPACE_ID)
    nullable = {name for name, (has_ws, not_null) in tables.items() if has_ws and not not_null}
    assert nullable == set(NULLABLE_WORKSPACE_ID)


async def test_every_key_of_a_tenant_table_includes_workspace_id(database_url: str) -> None:
    tables = await _tables(database_url)
    tenant = {name for name, (has_ws, _) in tables.items() if has_ws}
    keys = await fetch(database_url, _KEYS)
    assert keys, "no keys read: the catalog query is wrong"
    without = {r["key"] for r in keys if r["tbl"] in tenant and "workspace_id" not in r["columns"]}
    assert without == set(KEYS_WITHOUT_WORKSPACE_ID)
    # And the ones that do include it (the messages' provider ids among them).
    scoped = {r["key"] for r in keys if r["tbl"] in tenant} - without
    assert "uq_messages_workspace_id_emailbison_reply_id" in scoped
    assert "uq_lead_identities_workspace_id_kind_value" in scoped
    # Migration 0019: surrogate keys, link tables and the permanent dedupe keys.
    assert {
        "pk_leads",
        "pk_messages",
        "pk_webhook_events",
        "pk_lead_tags",
        "pk_lead_reads",
        "pk_lead_merge_suggestions",
        "uq_webhook_events_workspace_id_dedupe_key",
        "uq_jobs_workspace_id_dedupe_key",
        "uq_alerts_workspace_id_dedupe_key",
    } <= scoped


# --- the SQL the repositories spell out ---------------------------------------------------
# Best effort: string literals (and f-strings) holding a statement that names a tenant table
# after FROM/JOIN/UPDATE/INTO must mention workspace_id. Statements built with SQLAlchemy's
# expression language (auth, parts of inbox) and queue templates over ``{t}`` are not seen.

_REF = re.compile(r"\b(?:FROM|JOIN|UPDATE|INTO)\s+([a-z_]+)", re.IGNORECASE)
_STATEMENT = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE)\b")

# (module under src/replydesk, table) → why its statements do not filter on workspace_id.
UNSCOPED_SQL = {
    ("leads/repository.py", "leads"): "the leads.snooze_wake task: snoozes that ended, across "
    "every workspace (instance maintenance; a multi-shard UPDATE under Citus)",
    ("queue/repository.py", "alerts"): "the alert delivery sweep and its claims by alert id "
    "across every workspace (instance maintenance; a multi-shard statement under Citus)",
    ("queue/repository.py", "queue_attempts"): "an item's attempt history by (source, item_id) "
    "after the caller loaded the item (ids are global), and pruning across every workspace "
    "(instance maintenance; a multi-shard DELETE under Citus)",
    ("queue/retention_repository.py", "alerts"): "retention of delivered alerts across every "
    "workspace (instance maintenance; a multi-shard DELETE under Citus)",
    ("integrations/sync/repository.py", "emailbison_reconcile"): "instance-wide totals of "
    "reconciliation for `queue stats` (a multi-shard aggregate under Citus)",
}


def _sql_strings(tree: ast.AST) -> list[str]:
    inside_fstring = {
        id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr)
        for part in node.values
    }  # fmt: skip
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            found.append(
                "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
            )
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in inside_fstring
        ):
            found.append(node.value)
    return [s for s in found if _STATEMENT.search(s)]


async def test_repository_sql_filters_on_workspace_id(database_url: str) -> None:
    tables = await _tables(database_url)
    tenant = {name for name, (has_ws, _) in tables.items() if has_ws}
    root = Path(replydesk.__file__).parent
    unscoped: set[tuple[str, str]] = set()
    for path in sorted(root.rglob("*.py")):
        module = path.relative_to(root).as_posix()
        if module.startswith(("migrations/", "sim/")):
            continue  # schema changes and the simulator (no tenant data)
        for sql in _sql_strings(ast.parse(path.read_text())):
            named = {t.lower() for t in _REF.findall(sql)} & tenant
            if named and "workspace_id" not in sql:
                unscoped |= {(module, table) for table in named}
    assert unscoped == set(UNSCOPED_SQL)
