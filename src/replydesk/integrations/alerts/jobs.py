"""The ``alert.deliver`` job: post one alert to the workspace's Slack, at most once.

``prepare`` claims the row (``pending`` → ``sending``) in its own committed transaction before
posting, so a duplicate job, a replay or a retry after a crash finds it claimed and posts
nothing. A post that certainly did not reach Slack (429, refused connection, 5xx) releases the
claim and fails the attempt: the queue retries it, not before Slack's ``Retry-After``. A post
that may have arrived (a timeout after it left) is ``unknown`` and never repeated. Without a
Slack integration the alert stays recorded (``no_destination``), at info level.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.core.crypto import KeyRing, UnreadableSecret
from replydesk.core.db import Database
from replydesk.core.errors import ProviderFailure
from replydesk.core.log_categories import LogCategory
from replydesk.core.logging import get_logger
from replydesk.core.settings import Settings
from replydesk.core.urlguard import OutboundURLRefused, guarded_client
from replydesk.integrations.credentials import service as credentials
from replydesk.integrations.credentials.vocabulary import Integration
from replydesk.integrations.provider_client import CallPolicy
from replydesk.integrations.slack.client import SlackWebhookClient
from replydesk.queue import service as queue
from replydesk.queue.errors import PermanentError
from replydesk.queue.queues import JOBS, ClaimedItem
from replydesk.queue.registry import Registry
from replydesk.queue.vocabulary import ALERT_DELIVER_JOB, QUEUE_INTEGRATION, AlertDelivery

log = get_logger(__name__)

_NAMES = {QUEUE_INTEGRATION: "Queue", "emailbison": "EmailBison", "ghl": "GoHighLevel"}


@dataclass(frozen=True)
class Delivery:
    """What ``prepare`` did: the final state to record (None: the row was not ours)."""

    alert_id: int
    status: AlertDelivery | None
    error: str | None = None


def alert_text(row: dict[str, Any]) -> str:
    """The Slack text: the recorded message, else a dead-letter summary (already redacted)."""
    if row.get("message"):
        return str(row["message"])
    where = _NAMES.get(str(row["integration"]), str(row["integration"]).capitalize())
    count = int(row.get("count") or 1)
    detail = f": {row['last_error']}" if row.get("last_error") else ""
    return (
        f"ReplyDesk {where}: {count} item(s) failed for good today ({row['error_class']}){detail}"
    )


def _alert_id(item: ClaimedItem) -> int:
    value = item.payload.get("alert_id")
    if not isinstance(value, int):
        raise PermanentError("alert.deliver without an integer alert_id")
    return value


class AlertDeliveryJob:
    def __init__(self, db: Database, settings: Settings, policy: CallPolicy | None = None) -> None:
        self.db, self.settings = db, settings
        self.policy = policy or CallPolicy.from_settings(settings)
        self._keyring: KeyRing | None = None

    @property
    def keyring(self) -> KeyRing:
        if self._keyring is None:
            self._keyring = KeyRing.from_settings(self.settings)
        return self._keyring

    async def prepare(self, item: ClaimedItem) -> Delivery:
        alert_id = _alert_id(item)
        async with self.db.session() as session:
            row = await queue.claim_alert_delivery(session, alert_id)
            if row is None:
                return Delivery(alert_id, None)
            slack = None
            if row["workspace_id"] is not None:
                try:
                    slack = await credentials.load_credentials(
                        session, self.keyring, row["workspace_id"], Integration.SLACK
                    )
                except UnreadableSecret:
                    slack = None
        if slack is None:
            return Delivery(alert_id, AlertDelivery.NO_DESTINATION, "no Slack integration")
        url = slack.credentials.secret["webhook_url"]
        try:
            async with guarded_client(self.settings) as http:
                client = SlackWebhookClient(url, http=http, policy=self.policy)
                await client.post(alert_text(row))
        except (ProviderFailure, OutboundURLRefused) as exc:
            return await self._failed(item, alert_id, exc)
        return Delivery(alert_id, AlertDelivery.DELIVERED)

    async def _failed(self, item: ClaimedItem, alert_id: int, exc: Exception) -> Delivery:
        message = str(exc)
        if isinstance(exc, ProviderFailure) and exc.unknown_delivery:
            return Delivery(alert_id, AlertDelivery.UNKNOWN, message)
        retryable = isinstance(exc, ProviderFailure) and exc.retryable
        if not retryable or item.attempts >= item.max_attempts:
            return Delivery(alert_id, AlertDelivery.FAILED, message)
        # Certainly not posted: free the row for this job's next attempt, then fail it.
        async with self.db.session() as session:
            await queue.release_alert_delivery(session, alert_id, message)
        raise exc

    async def apply(self, session: AsyncSession, item: ClaimedItem) -> str | None:
        done: Delivery = item.prepared
        if done.status is None:
            return f"alert {done.alert_id} is not pending (delivered or being delivered)"
        await queue.finish_alert_delivery(session, done.alert_id, done.status, done.error)
        fields = {"alert_id": done.alert_id, "delivery": done.status.value}
        if done.status in (AlertDelivery.FAILED, AlertDelivery.UNKNOWN):
            log.warning(
                "alert_not_delivered",
                category=LogCategory.PROVIDER_ERROR,
                error_class="alert_delivery",
                error=done.error,
                **fields,
            )
        else:
            log.info("alert_delivery_done", **fields)
        return None


def register(
    registry: Registry, settings: Settings, db: Database | None, policy: CallPolicy | None = None
) -> None:
    if db is None:
        return
    job = AlertDeliveryJob(db, settings, policy)
    registry.add(JOBS.name, ALERT_DELIVER_JOB, job.apply, prepare=job.prepare)
