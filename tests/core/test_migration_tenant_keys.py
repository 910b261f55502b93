"""Migration 0019 (decision 0024): tenant keys on existing data, their behaviour, and the way
back."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest

from replydesk.core.migrate import downgrade, upgrade
from tests.support import pg

KEYS = """
SELECT conrelid::regclass::text AS tbl, conname, pg_get_constraintdef(oid) AS def
FROM pg_constraint
WHERE connamespace = 'public'::regnamespace AND contype IN ('p', 'u', 'f')
  AND conname = ANY($1::text[])
"""
WATCHED = [
    "pk_leads",
    "pk_webhook_events",
    "pk_lead_tags",
    "fk_messages_lead_id_leads",
    "fk_messages_identity_id_lead_identities",
    "uq_webhook_events_dedupe_key",
    "uq_webhook_events_workspace_id_dedupe_key",
    "uq_jobs_dedupe_key",
    "uq_alerts_dedupe_key",
    "uq_alerts_workspace_id_dedupe_key",
]


@pytest.fixture
def empty_database_url(pg_url: str) -> Iterator[str]:
    url = pg.create_database(pg_url)
    yield url
    pg.drop_database(url)


async def _with(url: str, work: Any) -> Any:
    conn = await asyncpg.connect(url)
    try:
        return await work(conn)
    finally:
        await conn.close()


async def _seed(conn: asyncpg.Connection) -> None:
    ws = await conn.fetchval(
        "INSERT INTO workspaces (name, webhook_token_hash) VALUES ('A', 'h') RETURNING id"
    )
    lead = await conn.fetchval(
        "INSERT INTO leads (workspace_id, email) VALUES ($1, 'dana@northwind.example') "
        "RETURNING id",
        ws,
    )
    identity = await conn.fetchval(
        "INSERT INTO lead_identities (workspace_id, lead_id, kind, value) "
        "VALUES ($1, $2, 'email', 'dana@northwind.example') RETURNING id",
        ws,
        lead,
    )
    await conn.execute(
        "INSERT INTO messages (workspace_id, lead_id, channel, direction, sent_by, occurred_at, "
        "identity_id) VALUES ($1, $2, 'email', 'inbound', 'lead', now(), $3)",
        ws,
        lead,
        identity,
    )
    tag = await conn.fetchval(
        "INSERT INTO tags (workspace_id, name) VALUES ($1, 'hot') RETURNING id", ws
    )
    await conn.execute(
        "INSERT INTO lead_tags (workspace_id, lead_id, tag_id) VALUES ($1, $2, $3)", ws, lead, tag
    )
    event = await conn.fetchval(
        "INSERT INTO webhook_events (workspace_id, provider, event_type, dedupe_key, payload) "
        "VALUES ($1, 'ghl', 'InboundMessage', 'ghl:k1', '{}') RETURNING id",
        ws,
    )
    job = await conn.fetchval(
        "INSERT INTO jobs (type, payload, dedupe_key) VALUES ('t', '{}', 'instance:1') RETURNING id"
    )
    for source, item in (("webhook_events", event), ("jobs", job)):
        await conn.execute(
            "INSERT INTO queue_attempts (source, item_id, attempt, outcome) "
            "VALUES ($1, $2, 1, 'succeeded')",
            source,
            item,
        )


async def _keys(conn: asyncpg.Connection) -> dict[str, str]:
    return {r["conname"]: r["def"] for r in await conn.fetch(KEYS, WATCHED)}


async def _after_upgrade(conn: asyncpg.Connection) -> None:
    ws = await conn.fetchval("SELECT id FROM workspaces")
    attempts = await conn.fetch("SELECT source, workspace_id FROM queue_attempts ORDER BY source")
    assert [(r["source"], r["workspace_id"]) for r in attempts] == [
        ("jobs", None),
        ("webhook_events", ws),
    ]
    lead, identity = await conn.fetchrow("SELECT lead_id, identity_id FROM messages")
    assert (lead, identity) == await conn.fetchrow("SELECT lead_id, id FROM lead_identities")
    assert await conn.fetchval("SELECT count(*) FROM lead_tags") == 1

    # A row cannot point at another workspace's lead.
    other = await conn.fetchval(
        "INSERT INTO workspaces (name, webhook_token_hash) VALUES ('B', 'h2') RETURNING id"
    )
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await conn.execute(
            "INSERT INTO messages (workspace_id, lead_id, channel, direction, sent_by, "
            "occurred_at) VALUES ($1, $2, 'email', 'inbound', 'lead', now())",
            other,
            lead,
        )
    # SET NULL clears the reference only: the message keeps its workspace.
    await conn.execute("DELETE FROM lead_identities WHERE id = $1", identity)
    row = await conn.fetchrow("SELECT workspace_id, identity_id FROM messages")
    assert (row["workspace_id"], row["identity_id"]) == (ws, None)

    # Dedupe keys are per workspace; instance jobs and global alerts dedupe among themselves;
    # a job without a key is never deduplicated.
    insert_event = (
        "INSERT INTO webhook_events (workspace_id, provider, event_type, dedupe_key, payload) "
        "VALUES ($1, 'ghl', 'InboundMessage', 'ghl:k1', '{}') "
        "ON CONFLICT (workspace_id, dedupe_key) DO NOTHING RETURNING id"
    )
    assert await conn.fetchval(insert_event, ws) is None
    assert await conn.fetchval(insert_event, other) is not None
    insert_job = (
        "INSERT INTO jobs (type, payload, dedupe_key, workspace_id) VALUES ('t', '{}', $1, $2) "
        "ON CONFLICT (workspace_id, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING "
        "RETURNING id"
    )
    assert await conn.fetchval(insert_job, "instance:1", None) is None
    assert await conn.fetchval(insert_job, "instance:1", ws) is not None
    assert await conn.fetchval(insert_job, None, None) is not None
    assert await conn.fetchval(insert_job, None, None) is not None
    insert_alert = (
        "INSERT INTO alerts (dedupe_key, workspace_id, error_class, day, source) "
        "VALUES ('global:x:2026-01-01', NULL, 'x', '2026-01-01', 'jobs') "
        "ON CONFLICT (workspace_id, dedupe_key) DO UPDATE SET count = alerts.count + 1 "
        "RETURNING count"
    )
    assert [await conn.fetchval(insert_alert) for _ in range(2)] == [1, 2]
    # Back to the data as it was seeded (the downgrade restores global dedupe keys).
    await conn.execute("DELETE FROM webhook_events WHERE workspace_id = $1", other)
    await conn.execute("DELETE FROM jobs WHERE workspace_id IS NOT NULL OR dedupe_key IS NULL")


def test_upgrade_keeps_data_and_downgrade_restores_the_keys(empty_database_url: str) -> None:
    url = empty_database_url
    upgrade(url, "0015")
    asyncio.run(_with(url, _seed))
    before = asyncio.run(_with(url, _keys))
    assert before["pk_leads"] == "PRIMARY KEY (id)"
    assert before["uq_webhook_events_dedupe_key"] == "UNIQUE (dedupe_key)"

    upgrade(url, "0019")
    after = asyncio.run(_with(url, _keys))
    assert after == {
        "pk_leads": "PRIMARY KEY (id, workspace_id)",
        "pk_webhook_events": "PRIMARY KEY (id, workspace_id)",
        "pk_lead_tags": "PRIMARY KEY (workspace_id, lead_id, tag_id)",
        "fk_messages_lead_id_leads": "FOREIGN KEY (workspace_id, lead_id) REFERENCES "
        "leads(workspace_id, id) ON DELETE CASCADE",
        "fk_messages_identity_id_lead_identities": "FOREIGN KEY (workspace_id, identity_id) "
        "REFERENCES lead_identities(workspace_id, id) ON DELETE SET NULL (identity_id)",
        "uq_webhook_events_workspace_id_dedupe_key": "UNIQUE (workspace_id, dedupe_key)",
        "uq_alerts_workspace_id_dedupe_key": "UNIQUE NULLS NOT DISTINCT (workspace_id, dedupe_key)",
    }
    asyncio.run(_with(url, _after_upgrade))

    downgrade(url, "0015")
    assert asyncio.run(_with(url, _keys)) == before
    upgrade(url, "0019")
    assert asyncio.run(_with(url, _keys)) == after
