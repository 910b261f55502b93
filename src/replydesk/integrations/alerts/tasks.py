"""The alert delivery sweep: every ``alert_delivery_interval_s`` one worker queues an
``alert.deliver`` job for each alert not yet queued (at most ``alert_delivery_batch``).
Off unless ``REPLYDESK_FEATURE_SLACK_ALERTS`` is true: alerts are then recorded only."""

from __future__ import annotations

from replydesk.core.db import Database
from replydesk.core.logging import get_logger
from replydesk.core.settings import Settings
from replydesk.queue import service as queue
from replydesk.queue.scheduler import PeriodicTask

log = get_logger(__name__)


def periodic_tasks(settings: Settings) -> list[PeriodicTask]:
    if not settings.feature_slack_alerts:
        return []
    limit, attempts = settings.alert_delivery_batch, settings.alert_delivery_max_attempts

    async def queue_deliveries(db: Database) -> None:
        async with db.session() as session:
            queued = await queue.queue_alert_deliveries(session, limit, attempts)
        if queued:
            log.debug("alert_deliveries_queued", count=queued)

    return [PeriodicTask("alerts.deliver", settings.alert_delivery_interval_s, queue_deliveries)]
