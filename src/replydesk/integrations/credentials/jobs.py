"""The ``integration.health_check`` job: read and decrypt in a short transaction, call the
provider outside any transaction (``prepare``), record the result in the item's transaction.

A result is written only if the credentials still have the version the check read, so a
check racing a PUT or DELETE cannot overwrite the fresh ``unknown`` state.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.core.crypto import KeyRing, UnreadableSecret
from replydesk.core.db import Database
from replydesk.core.log_categories import log_category
from replydesk.core.logging import get_logger
from replydesk.core.settings import Settings
from replydesk.core.urlguard import guarded_client
from replydesk.integrations.credentials import service
from replydesk.integrations.credentials.checks import CHECKS, HealthResult
from replydesk.integrations.credentials.vocabulary import HealthStatus, Integration, JobType
from replydesk.queue.errors import PermanentError
from replydesk.queue.queues import JOBS, ClaimedItem
from replydesk.queue.registry import Registry

log = get_logger(__name__)


@dataclass(frozen=True)
class Checked:
    version: int
    result: HealthResult


def _target(item: ClaimedItem) -> Integration:
    if item.workspace_id is None:
        raise PermanentError("health check without a workspace")
    try:
        return Integration(str(item.payload.get("provider")))
    except ValueError:
        raise PermanentError(f"unknown integration {item.payload.get('provider')!r}") from None


class HealthCheckJob:
    """Bound to the worker's database and settings (built by ``register``)."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings = db, settings
        self._keyring: KeyRing | None = None

    @property
    def keyring(self) -> KeyRing:
        # Loaded on first use: the embedded key file is created by whoever starts first.
        if self._keyring is None:
            self._keyring = KeyRing.from_settings(self.settings)
        return self._keyring

    async def prepare(self, item: ClaimedItem) -> Checked | None:
        provider = _target(item)
        assert item.workspace_id is not None
        async with self.db.session() as session:
            try:
                subject = await service.load_credentials(
                    session, self.keyring, item.workspace_id, provider
                )
            except UnreadableSecret as exc:
                raise PermanentError(str(exc), category="secret_unreadable") from None
        if subject is None:
            return None
        timeout = self.settings.health_check_timeout_s
        async with guarded_client(self.settings, timeout=timeout) as client:
            result = await CHECKS[provider](subject.credentials, client)
        return Checked(subject.version, result)

    async def apply(self, session: AsyncSession, item: ClaimedItem) -> str | None:
        provider = _target(item)
        assert item.workspace_id is not None
        checked: Checked | None = item.prepared
        if checked is None:
            return f"{provider} is no longer configured"
        written = await service.record_check(
            session, item.workspace_id, provider, checked.version, checked.result
        )
        if not written:
            return f"{provider} credentials changed during the check; result dropped"
        level = log.info if checked.result.status is HealthStatus.OK else log.warning
        level(
            "integration_health_checked",
            workspace_id=str(item.workspace_id),
            provider=provider.value,
            status=checked.result.status.value,
            category=log_category(checked.result.category),
            error_class=checked.result.category,
            error=checked.result.message,
        )
        return None


def register(registry: Registry, settings: Settings, db: Database | None) -> None:
    """Without a database (a registry built for tests of other handlers) there is no check
    handler: such jobs wait for a worker that has one."""
    if db is None:
        return
    job = HealthCheckJob(db, settings)
    registry.add(JOBS.name, JobType.HEALTH_CHECK.value, job.apply, prepare=job.prepare)
