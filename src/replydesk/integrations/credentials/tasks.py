"""Periodic health checks: every ``health_check_interval_s`` one worker queues a check for
each configured integration (bounded by ``health_check_batch``, least recently checked
first); checks still pending are not queued twice (their dedupe key)."""

from __future__ import annotations

from replydesk.core.db import Database
from replydesk.core.logging import get_logger
from replydesk.core.settings import Settings
from replydesk.integrations.credentials import service
from replydesk.queue.scheduler import PeriodicTask

log = get_logger(__name__)


def periodic_tasks(settings: Settings) -> list[PeriodicTask]:
    limit = settings.health_check_batch

    async def queue_checks(db: Database) -> int:
        async with db.session() as session:
            queued = await service.queue_due_checks(session, limit)
        log.debug("integration_health_checks_queued", count=queued)
        return queued

    return [
        PeriodicTask("integrations.health_checks", settings.health_check_interval_s, queue_checks)
    ]
