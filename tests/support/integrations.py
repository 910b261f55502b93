"""Integrations configured straight in the database (the PUT validation refuses the
simulator's base URLs, which carry a path per provider), and their health set."""

from __future__ import annotations

import uuid
from typing import Any

from cryptography.fernet import Fernet

from replydesk.core.crypto import KeyRing
from replydesk.core.db import Database
from replydesk.core.settings import Settings
from replydesk.integrations.credentials import repository, service
from replydesk.integrations.credentials.checks import HealthResult
from replydesk.integrations.credentials.vocabulary import HealthStatus, Integration
from replydesk.sim.server import SimServer
from tests.support.queue import fast_settings
from tests.support.sim import SIM_KEYS

# One key for every integration test (credentials sealed by one test's app open in another's).
SECRET_KEY = Fernet.generate_key().decode()


async def configure(
    db: Database,
    settings: Settings,
    workspace_id: uuid.UUID,
    provider: Integration,
    conf: dict[str, Any],
    secret: dict[str, str],
    status: HealthStatus = HealthStatus.OK,
) -> int:
    """Store encrypted credentials, health ``status``; returns the credentials' version."""
    ring = KeyRing.from_settings(settings)
    async with db.session() as session:
        sealed = ring.seal(service.binding(workspace_id, provider), secret)
        version = await repository.upsert_credentials(
            session, workspace_id, provider, conf, "…", sealed
        )
        await repository.reset_health(session, workspace_id, provider)
        if status is not HealthStatus.UNKNOWN:
            await service.record_check(
                session, workspace_id, provider, version, HealthResult(status)
            )
    return version


async def configure_sim(
    db: Database,
    settings: Settings,
    sim: SimServer,
    workspace_id: uuid.UUID,
    provider: Integration,
    status: HealthStatus = HealthStatus.OK,
) -> int:
    """Point one of the workspace's integrations at the simulator."""
    if provider is Integration.SLACK:
        conf: dict[str, Any] = {}
        secret = {"webhook_url": sim.base_url("slack")}
    else:
        conf = {"base_url": sim.base_url(provider.value)}
        if provider is Integration.GHL:
            conf["location_id"] = "loc_7Hq2kP"
        if provider is Integration.UNIPILE:
            conf["account_id"] = "acc_LnK4e"
        secret = {"api_key": SIM_KEYS[provider.value]}
    return await configure(db, settings, workspace_id, provider, conf, secret, status)


async def set_health(
    db: Database,
    workspace_id: uuid.UUID,
    provider: Integration,
    version: int,
    result: HealthResult,
) -> bool:
    async with db.session() as session:
        return await service.record_check(session, workspace_id, provider, version, result)


def integration_settings(database_url: str, tmp_path: Any, **extra: Any) -> Settings:
    """Settings for integration tests: the test key ring, loopback provider URLs allowed (the
    simulator), the queue's fast test timings; ``extra`` per test module."""
    return fast_settings(
        database_url,
        data_dir=tmp_path / "data",
        secret_key=SECRET_KEY,
        outbound_allow_private=True,
        **extra,
    )
