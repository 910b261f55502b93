"""Security finding (Medium): no PII in ``last_error`` or in the worker's log lines.

SQLAlchemy's error text carries the statement's ``[parameters: …]`` and PostgreSQL's the
offending values; a handler failing on a row with a distinctive name must leave that name
nowhere: not in ``last_error``, not in ``queue_item_retry`` / ``queue_item_dead`` lines.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.core.db import Database
from replydesk.queue.queues import ClaimedItem
from replydesk.queue.registry import Registry
from tests.support.logs import LogCapture
from tests.support.queue import fast_settings, fetch, insert_events, running_worker, wait_until
from tests.support.workspaces import new_workspace

NAME = "Zebulon Quillfeather"
COMPANY = "Quillfeather Umbrellas"


async def _unique_violation(session: AsyncSession, item: ClaimedItem) -> None:
    for _ in range(2):
        await session.execute(
            text("INSERT INTO people (name, company) VALUES (:name, :company)"),
            {"name": item.payload["name"], "company": item.payload["company"]},
        )


async def _bad_value(session: AsyncSession, item: ClaimedItem) -> None:
    # PostgreSQL quotes the value: invalid input syntax for type integer: "Zebulon …"
    await session.execute(
        text("SELECT CAST(CAST(:v AS text) AS integer)"), {"v": item.payload["name"]}
    )


@pytest.mark.parametrize(
    ("handler", "sqlstate", "names", "outcomes"),
    [
        (
            _unique_violation,
            "23505",
            ["UniqueViolationError", "constraint uq_people_name"],
            ["retry", "dead"],
        ),
        # A value the database refuses is a bad payload: dead at once, never retried.
        (_bad_value, "22P02", ["InvalidTextRepresentationError"], ["dead"]),
    ],
)
async def test_failed_statement_leaves_no_values_in_last_error_or_logs(
    db: Database,
    database_url: str,
    log_capture: LogCapture,
    handler: object,
    sqlstate: str,
    names: list[str],
    outcomes: list[str],
) -> None:
    async with db.session() as session:
        await session.execute(
            text(
                "CREATE TABLE people (name text, company text, "
                "CONSTRAINT uq_people_name UNIQUE (name))"
            )
        )
    ws = await new_workspace(db)
    registry = Registry()
    registry.add("webhook_events", "emailbison:LEAD_REPLIED", handler)  # type: ignore[arg-type]
    [event_id] = await insert_events(
        database_url, ws.id, [("emailbison", "LEAD_REPLIED", {"name": NAME, "company": COMPANY})]
    )
    await fetch(database_url, "UPDATE webhook_events SET max_attempts = 2")

    async def dead() -> bool:
        rows = await fetch(
            database_url, "SELECT status FROM webhook_events WHERE id = $1", event_id
        )
        return bool(rows[0]["status"] == "dead")

    async with running_worker(db, registry, fast_settings(database_url)):
        await wait_until(dead)
    [row] = await fetch(
        database_url, "SELECT last_error FROM webhook_events WHERE id = $1", event_id
    )
    stored = row["last_error"]
    history = await fetch(database_url, "SELECT outcome, error FROM queue_attempts ORDER BY id")
    assert [r["outcome"] for r in history] == outcomes
    for secret in ("Zebulon", "Quillfeather", "parameters"):
        assert secret not in stored
        assert secret not in log_capture.text
        assert all(secret not in r["error"] for r in history)
    # What is kept says what failed: classes, SQLSTATE, constraint.
    assert f"SQLSTATE {sqlstate}" in stored
    for name in names:
        assert name in stored
    events = [r["event"] for r in log_capture.records()]
    assert "queue_item_dead" in events
    assert ("queue_item_retry" in events) == ("retry" in outcomes)
