"""The ``reply.send`` job: one queued reply, sent at most once.

- ``prepare`` (no transaction held across the provider call): one short transaction reads the
  message, the lead, the provider's gate and the decrypted credentials and, when the send may
  go, stamps ``send_started_at`` (committed before the call). Then the call, through the
  outbound URL guard. A job that finds ``send_started_at`` already set (a crash, a lost lease,
  a failure after the call) does not send again: it checks the provider (``find_sent_*``);
  found → sent, else failed ``provider_timeout`` with ``unknown_delivery``.
- ``apply`` records the outcome in the item's transaction: the message (``leads.replies``),
  the provider's health (``credentials.service.transition_health``, the one health writer),
  a quarantine for a refused recipient, and for a held send the next job (a new dedupe key,
  ``run_at`` = when it may go), the job itself ending ``ignored`` with the hold's reason.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.core.crypto import KeyRing, UnreadableSecret
from replydesk.core.db import Database
from replydesk.core.errors import ClientAbort, ProviderFailure
from replydesk.core.log_categories import log_category
from replydesk.core.logging import get_logger
from replydesk.core.settings import Settings
from replydesk.core.urlguard import guarded_client
from replydesk.integrations.credentials import service as credentials
from replydesk.integrations.credentials.checks import HealthResult
from replydesk.integrations.credentials.vocabulary import HealthStatus
from replydesk.integrations.outbound import senders
from replydesk.integrations.outbound.senders import Failed, Held, Outcome, Reading, Sent
from replydesk.integrations.outbound.service import enqueue_send
from replydesk.integrations.outbound.vocabulary import (
    CHANNEL_PROVIDER,
    GATED,
    HoldReason,
    JobType,
)
from replydesk.integrations.provider_client import CallPolicy
from replydesk.leads import replies
from replydesk.leads.vocabulary import Channel, MessageStatus
from replydesk.queue.errors import PermanentError
from replydesk.queue.queues import JOBS, ClaimedItem
from replydesk.queue.registry import Registry

log = get_logger(__name__)


@dataclass(frozen=True)
class Prepared:
    message_id: int
    lead_id: int
    channel: Channel
    outcome: Outcome | None  # None: nothing to do (``skipped`` says why)
    skipped: str | None = None
    version: int | None = None  # the credentials the call used (health is written for them)
    health: HealthResult | None = None
    limited_until: datetime | None = None


def _message_id(item: ClaimedItem) -> int:
    if item.workspace_id is None:
        raise PermanentError("reply.send without a workspace")
    raw = item.payload.get("message_id")
    if not isinstance(raw, int) or isinstance(raw, bool):
        raise PermanentError("reply.send needs an integer message_id")
    return raw


class ReplySendJob:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings = db, settings
        # A send job makes up to three calls (a read, the send, the check after an ambiguous
        # send) inside the worker's item budget: each gets at most a quarter of it, so the
        # check still runs when the send times out.
        policy = CallPolicy.from_settings(settings)
        per_call = settings.worker_item_budget_s / 4
        self.policy = replace(
            policy,
            budget_s=min(policy.budget_s, per_call),
            send_timeout_s=min(policy.send_timeout_s, per_call),
            read_timeout_s=min(policy.read_timeout_s, per_call),
        )
        self._keyring: KeyRing | None = None

    @property
    def keyring(self) -> KeyRing:
        if self._keyring is None:
            self._keyring = KeyRing.from_settings(self.settings)
        return self._keyring

    def _too_old(self, created_at: datetime) -> bool:
        return senders.now() - created_at > timedelta(seconds=self.settings.reply_send_max_hold_s)

    def _hold_or_fail(self, subject: replies.ReplySubject, hold: Held) -> Outcome:
        """A reply waits, unless it has waited too long already."""
        if self._too_old(subject.created_at):
            hours = self.settings.reply_send_max_hold_s / 3600
            return Failed(hold.category, f"{hold.message} (held for more than {hours:g} h)")
        return hold

    async def prepare(self, item: ClaimedItem) -> Prepared:
        message_id = _message_id(item)
        ws = item.workspace_id
        assert ws is not None
        async with self.db.session() as session:
            subject = await replies.reply_subject(session, ws, message_id)
            if subject is None:
                return Prepared(message_id, 0, Channel.EMAIL, None, "the message no longer exists")
            channel = Channel(subject.channel)
            base = Prepared(message_id, subject.lead_id, channel, None)
            if subject.status != MessageStatus.QUEUED:
                return _with(base, skipped=f"the reply is already {subject.status}")
            provider = CHANNEL_PROVIDER[channel]
            gate = await credentials.gate(session, ws, provider)
            if gate is None:
                return _with(
                    base,
                    outcome=Failed(senders.NOT_CONFIGURED, f"{provider} is no longer configured"),
                )
            checking = subject.send_started_at is not None
            if not checking:
                early = await self._gated(session, ws, subject, gate)
                if early is not None:
                    return _with(base, outcome=early, version=gate.version)
            try:
                loaded = await credentials.load_credentials(session, self.keyring, ws, provider)
            except UnreadableSecret as exc:
                raise PermanentError(str(exc), category="secret_unreadable") from None
            if loaded is None:
                return _with(
                    base,
                    outcome=Failed(senders.NOT_CONFIGURED, f"{provider} is no longer configured"),
                )
            if not checking and not await replies.start_reply_send(session, ws, message_id):
                return _with(base, skipped="a send of this reply is already in flight")
        # The transaction is committed: send_started_at is durable before the call leaves.
        async with guarded_client(self.settings, timeout=self.policy.send_timeout_s) as http:
            sender = senders.Sender(subject, loaded.credentials, http, self.policy)
            try:
                if checking:
                    outcome = await sender.check("an earlier send attempt ended without an answer")
                else:
                    outcome = await sender.send()
            except ClientAbort:
                raise
            except ProviderFailure as failure:
                reading = senders.read_failure(
                    failure,
                    channel,
                    subject.send_holds,
                    self.settings.reply_send_error_backoff_s,
                    self.settings.reply_send_error_retries,
                )
                return self._read(base, subject, reading, loaded.version)
        health = HealthResult.ok() if isinstance(outcome, Sent) else None
        return _with(base, outcome=outcome, version=loaded.version, health=health)

    def _read(
        self, base: Prepared, subject: replies.ReplySubject, reading: Reading, version: int
    ) -> Prepared:
        outcome = reading.outcome
        if isinstance(outcome, Held):
            if outcome.reason is HoldReason.HEALTH_GATED:
                recheck = timedelta(seconds=self.settings.reply_send_gate_recheck_s)
                until = senders.now() + recheck
                outcome = Held(outcome.reason, outcome.category, outcome.message, until)
            outcome = self._hold_or_fail(subject, outcome)
        return _with(
            base,
            outcome=outcome,
            version=version,
            health=reading.health,
            limited_until=reading.limited_until,
        )

    async def _gated(
        self,
        session: AsyncSession,
        ws: uuid.UUID,
        subject: replies.ReplySubject,
        gate: credentials.Gate,
    ) -> Outcome | None:
        """Why this send must not go now (before any call), or None."""
        states = await replies.channel_states(session, ws, subject.lead_id)
        state = states[subject.channel]
        if state["state"] != "ok":
            return Failed(
                senders.RECIPIENT_UNREACHABLE,
                f"the lead's {subject.channel} channel is quarantined ({state['reason']})",
            )
        at = senders.now()
        if gate.status in GATED:
            until = at + timedelta(seconds=self.settings.reply_send_gate_recheck_s)
            message = f"{CHANNEL_PROVIDER[Channel(subject.channel)]} is {gate.status}"
            return self._hold_or_fail(
                subject,
                Held(HoldReason.HEALTH_GATED, gate.category or str(gate.status), message, until),
            )
        if (
            gate.status is HealthStatus.RATE_LIMITED
            and gate.limited_until is not None
            and gate.limited_until > at
        ):
            return self._hold_or_fail(
                subject,
                Held(
                    HoldReason.RATE_LIMITED,
                    gate.category or "provider_rate_limited",
                    gate.message or "rate limited",
                    gate.limited_until,
                ),
            )
        return None

    async def apply(self, session: AsyncSession, item: ClaimedItem) -> str | None:
        prepared: Prepared = item.prepared
        ws = item.workspace_id
        assert ws is not None
        if prepared.outcome is None:
            return prepared.skipped
        provider = CHANNEL_PROVIDER[prepared.channel]
        if prepared.health is not None and prepared.version is not None:
            await credentials.transition_health(
                session,
                ws,
                provider,
                prepared.health,
                version=prepared.version,
                limited_until=prepared.limited_until,
                degraded_streak=self.settings.provider_degraded_streak,
            )
        outcome = prepared.outcome
        fields = {
            "workspace_id": str(ws),
            "message_id": prepared.message_id,
            "channel": prepared.channel.value,
            "provider": provider.value,
        }
        if isinstance(outcome, Sent):
            await replies.mark_reply_sent(
                session,
                ws,
                prepared.message_id,
                prepared.lead_id,
                prepared.channel.value,
                outcome.key_column,
                outcome.key,
            )
            if outcome.chat is not None:
                await replies.record_linkedin_chat(session, ws, *outcome.chat)
            log.info("reply_sent", **fields)
            return None
        if isinstance(outcome, Failed):
            await replies.mark_reply_failed(
                session,
                ws,
                prepared.message_id,
                outcome.category,
                outcome.message,
                unknown_delivery=outcome.unknown_delivery,
            )
            if outcome.quarantine_reason is not None:
                await replies.quarantine_channel(
                    session,
                    ws,
                    prepared.lead_id,
                    prepared.channel,
                    outcome.quarantine_reason,
                    prepared.message_id,
                )
            # Someone must look at a failed reply (the lead needs attention again).
            log.warning(
                "reply_failed",
                category=log_category(outcome.category),
                error_class=outcome.category,
                unknown_delivery=outcome.unknown_delivery,
                quarantined=outcome.quarantine_reason,
                error=outcome.message,
                **fields,
            )
            return None
        holds = await replies.hold_reply_send(
            session, ws, prepared.message_id, outcome.category, outcome.message
        )
        if holds is None:
            return "the reply is no longer queued"
        await enqueue_send(session, ws, prepared.message_id, holds, run_at=outcome.until)
        log.info(
            "reply_held",
            reason=outcome.reason.value,
            category=log_category(outcome.category),
            error_class=outcome.category,
            until=outcome.until.isoformat(),
            holds=holds,
            **fields,
        )
        return f"{outcome.reason.value}: held until {outcome.until.isoformat(timespec='seconds')}"


def _with(base: Prepared, **changes: Any) -> Prepared:
    return replace(base, **changes)


def register(registry: Registry, settings: Settings, db: Database | None) -> None:
    """Without a database (a registry built for tests of other handlers) there is no send
    handler: such jobs wait for a worker that has one."""
    if db is None:
        return
    job = ReplySendJob(db, settings)
    registry.add(JOBS.name, JobType.REPLY_SEND.value, job.apply, prepare=job.prepare)
