"""``credentials.service.transition_health``: the one writer of health results (checks and
sends): streaks, rate-limit windows, stale credentials, what counts as a change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from replydesk.core.db import Database
from replydesk.core.settings import Settings
from replydesk.integrations.credentials import service
from replydesk.integrations.credentials.checks import HealthResult
from replydesk.integrations.credentials.vocabulary import HealthStatus, Integration
from replydesk.sim.server import SimServer
from tests.support.members import new_workspace_owner
from tests.support.queue import fetch
from tests.support.replies import configure

ERROR = HealthResult(HealthStatus.DEGRADED, "provider_error", "ghl answered 502")


async def _row(url: str) -> dict[str, Any]:
    rows = await fetch(url, "SELECT * FROM integration_health WHERE provider = 'ghl'")
    return dict(rows[0])


async def test_send_errors_degrade_from_the_streak_and_ok_resets_it(
    db: Database, settings: Settings, database_url: str, sim: SimServer
) -> None:
    owner = await new_workspace_owner(db, "Acme", "owner@acme.example")
    ws = owner.workspace_id
    await configure(db, settings, ws, sim)
    seq = (await _row(database_url))["check_seq"]
    async with db.session() as session:
        changes = [
            await service.transition_health(
                session, ws, Integration.GHL, ERROR, version=1, degraded_streak=3
            )
            for _ in range(3)
        ]
    assert [c.current for c in changes if c] == [
        HealthStatus.OK,
        HealthStatus.OK,
        HealthStatus.DEGRADED,
    ]
    assert [c.changed for c in changes if c] == [False, False, True]
    row = await _row(database_url)
    assert row["status"] == "degraded" and row["failure_streak"] == 3
    assert row["check_seq"] == seq  # a send is not a check
    async with db.session() as session:
        back = await service.transition_health(
            session, ws, Integration.GHL, HealthResult.ok(), version=1
        )
        # Credentials replaced since (another version): nothing written.
        assert (
            await service.transition_health(
                session, ws, Integration.GHL, ERROR, version=99, degraded_streak=1
            )
            is None
        )
    assert back is not None and back.changed and back.previous is HealthStatus.DEGRADED
    row = await _row(database_url)
    assert row["status"] == "ok" and row["failure_streak"] == 0
    assert row["last_error_category"] is None


async def test_rate_limited_lasts_until_its_window(
    db: Database, settings: Settings, database_url: str, sim: SimServer
) -> None:
    owner = await new_workspace_owner(db, "Acme", "owner@acme.example")
    ws = owner.workspace_id
    await configure(db, settings, ws, sim)
    until = datetime.now(UTC) + timedelta(minutes=5)
    limited = HealthResult(HealthStatus.RATE_LIMITED, "provider_rate_limited", "429")
    async with db.session() as session:
        await service.transition_health(
            session, ws, Integration.GHL, limited, version=1, limited_until=until
        )
        gate = await service.gate(session, ws, Integration.GHL)
    assert gate is not None and gate.status is HealthStatus.RATE_LIMITED
    assert gate.limited_until == until
    assert (await _row(database_url))["since"] is not None
