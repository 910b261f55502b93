"""The inbox's periodic task: the daily Slack digest (``inbox/digest.py``). Registered only
when Slack delivery is on (``REPLYDESK_FEATURE_SLACK_ALERTS``): a digest recorded while it is
off would be posted late, when delivery is turned on."""

from __future__ import annotations

from replydesk.core.db import Database
from replydesk.core.settings import Settings
from replydesk.inbox import counts as counts_service
from replydesk.inbox import digest
from replydesk.queue.scheduler import PeriodicTask, RunReport

# How often the task looks for due workspaces (it records at most one digest per workspace
# per day whatever the interval; a shorter one only posts sooner after the hour).
DIGEST_INTERVAL_S = 300.0


def periodic_tasks(settings: Settings) -> list[PeriodicTask]:
    if not settings.feature_slack_alerts:
        return []
    cache = counts_service.CountsCache(max_entries=settings.digest_batch)

    async def send(db: Database) -> RunReport:
        done = await digest.send_digests(db, settings, cache)
        return RunReport(processed=done.recorded, skipped=done.skipped, failed=done.failed)

    return [PeriodicTask("inbox.daily_digest", DIGEST_INTERVAL_S, send)]
