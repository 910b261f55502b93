"""Periodic: ``integrations.emailbison_reconcile`` queues one reconciliation per workspace
with EmailBison configured and not auth_failed; ``integrations.silence`` measures every
configured provider's webhook rhythm and flags the silent ones (``service.detect_silence``)."""

from __future__ import annotations

import time

from replydesk.core.db import Database
from replydesk.core.logging import get_logger
from replydesk.core.settings import Settings
from replydesk.integrations.sync import service
from replydesk.queue.scheduler import PeriodicTask

log = get_logger(__name__)


def _slot(interval_s: float) -> str:
    return str(int(time.time() // interval_s))


def periodic_tasks(settings: Settings) -> list[PeriodicTask]:
    async def reconcile(db: Database) -> None:
        async with db.session() as session:
            queued = await service.queue_reconciliations(
                session, settings.reconcile_batch, _slot(settings.reconcile_interval_s)
            )
        log.debug("emailbison_reconciliations_queued", count=queued)

    async def silence(db: Database) -> None:
        async with db.session() as session:
            found = await service.detect_silence(
                session, settings, _slot(settings.silence_interval_s)
            )
        log.debug("provider_silence_checked", silent=len(found))

    return [
        PeriodicTask("integrations.emailbison_reconcile", settings.reconcile_interval_s, reconcile),
        PeriodicTask("integrations.silence", settings.silence_interval_s, silence),
    ]
