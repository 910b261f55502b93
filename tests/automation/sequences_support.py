"""Helpers of the follow-up sequence tests: sequences through the API, the tick, what the
reply path queued, and moving a follow-up's clock (its due time, its start) in the database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from replydesk.automation.sequences.tick import TickReport, run_tick
from tests.automation.drafts_support import Desk
from tests.support.queue import fetch


def email_step(template: str = "Hi {first_name}, any thoughts?", **extra: Any) -> dict[str, Any]:
    return {"channel": "email", "delay_hours": 0, "template": template, **extra}


async def new_sequence(
    desk: Desk,
    steps: list[dict[str, Any]] | None = None,
    *,
    trigger: str = "manual",
    enabled: bool = True,
    name: str = "Nudge",
) -> dict[str, Any]:
    body = {"name": name, "trigger": trigger, "steps": steps or [email_step()], "enabled": enabled}
    resp = await desk.post("sequences", body)
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


async def enrol(desk: Desk, lead_id: int, sequence_id: int, expect: int = 201) -> dict[str, Any]:
    resp = await desk.post(f"leads/{lead_id}/followups", {"sequence_id": sequence_id})
    assert resp.status_code == expect, resp.text
    return dict(resp.json())


async def followups(desk: Desk, lead_id: int) -> list[dict[str, Any]]:
    resp = await desk.get(f"leads/{lead_id}/followups")
    assert resp.status_code == 200, resp.text
    return list(resp.json()["items"])


async def tick(desk: Desk) -> TickReport:
    return await run_tick(desk.db, desk.settings)


async def followup_messages(url: str) -> list[dict[str, Any]]:
    """Replies the sequences queued (their idempotency keys say lead x sequence x step)."""
    rows = await fetch(
        url,
        "SELECT id, lead_id, channel, subject, body, idempotency_key FROM messages "
        "WHERE idempotency_key LIKE 'followup:%' ORDER BY id",
    )
    return [dict(r) for r in rows]


async def make_due(url: str, followup_id: int | None = None) -> None:
    """Time passes: the follow-up's next step (every one's, without an id) is due now."""
    if followup_id is None:
        await fetch(url, "UPDATE followups SET next_step_at = now() WHERE next_step_at IS NOT NULL")
    else:
        await fetch(url, "UPDATE followups SET next_step_at = now() WHERE id = $1", followup_id)


async def started_earlier(url: str, followup_id: int, at: datetime) -> None:
    await fetch(url, "UPDATE followups SET started_at = $2 WHERE id = $1", followup_id, at)


def iso(at: datetime) -> str:
    """EmailBison's timestamp format."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
