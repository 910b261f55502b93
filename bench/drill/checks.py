"""End-state checks: what the burst must have produced, read back from the API and the DB."""

from __future__ import annotations

from typing import Any

import asyncpg

from drill.http import Connection
from drill.traffic import Plan


async def api_counts(port: int, workspace_id: str, api_token: str) -> dict[str, Any]:
    conn = Connection("127.0.0.1", port)
    try:
        resp = await conn.request(
            "GET",
            f"/api/v1/workspaces/{workspace_id}/inbox/counts",
            None,
            {"Authorization": f"Bearer {api_token}"},
        )
        if resp.status != 200:
            raise RuntimeError(f"counts answered {resp.status}: {resp.body[:200]!r}")
        counts: dict[str, Any] = resp.json()
        return counts
    finally:
        await conn.close()


async def api_requires_attention_listed(port: int, workspace_id: str, api_token: str) -> int:
    """Walk every page of leads?filter=requires_attention and count the items."""
    conn = Connection("127.0.0.1", port)
    total, cursor = 0, None
    try:
        while True:
            path = f"/api/v1/workspaces/{workspace_id}/leads?filter=requires_attention&limit=200"
            if cursor:
                path += f"&cursor={cursor}"
            resp = await conn.request("GET", path, None, {"Authorization": f"Bearer {api_token}"})
            if resp.status != 200:
                raise RuntimeError(f"leads answered {resp.status}: {resp.body[:200]!r}")
            page = resp.json()
            total += len(page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                return total
    finally:
        await conn.close()


async def busy_items(database_url: str) -> int:
    """Webhook events pending or running, and jobs running: the drain's progress, read with
    one query (polling ``replydesk queue stats`` started a Python process each time, which
    took CPU from the workers being measured)."""
    conn = await asyncpg.connect(database_url)
    try:
        busy = await conn.fetchval(
            """
            SELECT (SELECT count(*) FROM webhook_events WHERE status IN ('pending', 'running'))
                 + (SELECT count(*) FROM jobs WHERE status = 'running')
            """
        )
        return int(busy)
    finally:
        await conn.close()


async def events_busy(database_url: str) -> int:
    """Webhook events not processed yet (pending or running)."""
    conn = await asyncpg.connect(database_url)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM webhook_events WHERE status IN ('pending', 'running')"
            )
        )
    finally:
        await conn.close()


async def db_figures(database_url: str, workspace_id: str) -> dict[str, Any]:
    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow(
            """
            SELECT (SELECT count(*) FROM messages WHERE workspace_id = $1) AS messages,
                   (SELECT count(*) FROM leads WHERE workspace_id = $1) AS leads,
                   (SELECT count(*) FROM webhook_events WHERE workspace_id = $1) AS events,
                   (SELECT extract(epoch FROM max(processed_at) - min(received_at))
                      FROM webhook_events WHERE workspace_id = $1) AS drain_seconds,
                   round(pg_database_size(current_database()) / 1048576.0, 1) AS database_mb
            """,
            workspace_id,
        )
        assert row is not None
        return dict(row)
    finally:
        await conn.close()


def consistency(
    plan: Plan,
    counts: dict[str, Any],
    listed: int,
    figures: dict[str, Any],
    stats: dict[str, dict[str, int]],
) -> dict[str, Any]:
    expected = {
        "messages": plan.distinct_events,
        "leads": plan.distinct_leads,
        "requires_attention": plan.replying_leads,
        "webhook_events": plan.distinct_events,
    }
    seen = {
        "messages": figures["messages"],
        "leads": counts.get("total_leads"),
        "requires_attention": counts.get("requires_attention"),
        "requires_attention_listed": listed,
        "webhook_events": figures["events"],
    }
    problems = []
    for key, want in expected.items():
        if seen[key] != want:
            problems.append(f"{key}: expected {want}, got {seen[key]}")
    if listed != plan.replying_leads:
        problems.append(f"requires_attention list: expected {plan.replying_leads}, got {listed}")
    left = stats.get("spool", {}).get("pending_records", 0)
    if left:
        problems.append(f"outage spool: {left} records not replayed")
    for table, by_status in stats.items():
        if table == "spool":
            continue
        for status in ("running", "dead") + (("pending",) if table == "webhook_events" else ()):
            if by_status.get(status):
                problems.append(f"{table}: {by_status[status]} {status}")
    return {"ok": not problems, "expected": expected, "seen": seen, "problems": problems}
