"""One send per channel through the provider clients, and how a provider failure reads for a
reply (sent, failed, held) and for the provider's health. No database here: the job reads
before and records after.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from replydesk.core.errors import ClientAbort, ProviderCategory, ProviderFailure
from replydesk.integrations.credentials.checks import HealthResult, ProviderCredentials
from replydesk.integrations.credentials.vocabulary import HealthStatus
from replydesk.integrations.emailbison.client import EmailBisonClient
from replydesk.integrations.ghl.client import GhlClient, SmsSkipped
from replydesk.integrations.outbound.vocabulary import HoldReason
from replydesk.integrations.provider_client import CallPolicy
from replydesk.integrations.unipile.client import UnipileClient, seconds_until_tomorrow
from replydesk.leads.replies import ReplySubject
from replydesk.leads.vocabulary import Channel

# Categories of our own (not a provider's answer).
RECIPIENT_MISSING = "recipient_missing"
RECIPIENT_UNREACHABLE = "recipient_unreachable"
NOT_CONFIGURED = "integration_not_configured"
NO_SENDER = "sender_missing"


@dataclass(frozen=True)
class Sent:
    key_column: str
    key: int | str | None
    # LinkedIn: (the attendee's provider id, the chat Unipile answered) to record on the
    # lead's LinkedIn identity.
    chat: tuple[str, str] | None = None


@dataclass(frozen=True)
class Failed:
    category: str
    message: str
    unknown_delivery: bool = False
    quarantine_reason: str | None = None  # the recipient is refused: quarantine the channel


@dataclass(frozen=True)
class Held:
    reason: HoldReason
    category: str
    message: str
    until: datetime


Outcome = Sent | Failed | Held

KEY_COLUMNS = {
    Channel.EMAIL: "emailbison_reply_id",
    Channel.SMS: "ghl_message_id",
    Channel.LINKEDIN: "unipile_message_id",
}


class Sender:
    """The workspace's client for one reply's channel, built over the guarded HTTP client."""

    def __init__(
        self,
        subject: ReplySubject,
        credentials: ProviderCredentials,
        http: httpx.AsyncClient,
        policy: CallPolicy,
    ) -> None:
        self.subject = subject
        self.channel = Channel(subject.channel)
        settings, key = credentials.settings, credentials.secret.get("api_key", "")
        self.emailbison: EmailBisonClient | None = None
        self.ghl: GhlClient | None = None
        self.unipile: UnipileClient | None = None
        self.account_id = settings.get("account_id", "")
        if self.channel is Channel.EMAIL:
            self.emailbison = EmailBisonClient(settings["base_url"], key, http=http, policy=policy)
        elif self.channel is Channel.SMS:
            self.ghl = GhlClient(
                settings.get("base_url"),
                key,
                settings.get("location_id", ""),
                http=http,
                policy=policy,
            )
        else:
            self.unipile = UnipileClient(settings["base_url"], key, http=http, policy=policy)

    async def send(self) -> Outcome:
        """Send once; after an ambiguous failure check the provider before deciding."""
        try:
            return await self._send()
        except ClientAbort:
            raise  # our own cancellation: the next attempt checks (send_started_at is set)
        except ProviderFailure as failure:
            if failure.unknown_delivery:
                return await self.check(failure.message)
            raise

    async def check(self, why: str) -> Outcome:
        """The provider's state after a send that may have left: sent if it shows the message,
        else failed with ``unknown_delivery`` (never sent again blindly)."""
        try:
            found = await self._find()
        except ClientAbort:
            raise
        except ProviderFailure as failure:
            why = f"{why}; the check failed too ({failure.category})"
            found = None
        if found is not None:
            return Sent(KEY_COLUMNS[self.channel], found)
        return Failed(
            ProviderCategory.TIMEOUT,
            f"{why} — delivery unknown: the provider does not show the message; check the "
            "conversation there before sending it again",
            unknown_delivery=True,
        )

    async def _send(self) -> Outcome:
        s = self.subject
        if self.emailbison is not None:
            return await self._send_email(self.emailbison)
        if self.ghl is not None:
            contact_id = await self._ghl_contact(self.ghl)
            sms = await self.ghl.send_sms(contact_id, s.body, phone=s.phone_e164)
            if isinstance(sms, SmsSkipped):
                return Failed(RECIPIENT_MISSING, "the lead has no phone number: no SMS was sent")
            return Sent(KEY_COLUMNS[Channel.SMS], sms.message_id)
        assert self.unipile is not None
        if not s.linkedin_provider_id:
            return Failed(RECIPIENT_MISSING, "the lead has no LinkedIn id: no message was sent")
        chat = await self.unipile.start_chat(self.account_id, s.linkedin_provider_id, s.body)
        started = (s.linkedin_provider_id, chat.chat_id) if chat.chat_id else None
        return Sent(KEY_COLUMNS[Channel.LINKEDIN], chat.message_id, started)

    async def _ghl_contact(self, ghl: GhlClient) -> str:
        """The lead's GHL contact: stored, else upserted by e-mail/phone (idempotent)."""
        s = self.subject
        if s.ghl_contact_id is not None:
            return s.ghl_contact_id
        contact = await ghl.upsert_contact(
            email=s.email, phone=s.phone_e164, first_name=s.first_name, last_name=s.last_name,
            company_name=s.company,
        )  # fmt: skip
        return contact.contact_id

    async def _send_email(self, client: EmailBisonClient) -> Outcome:
        s = self.subject
        if s.answer_reply_id is not None:
            answered = await client.reply(s.answer_reply_id)
            sender = answered.get("sender_email_id")
            to = str(answered.get("from_email_address") or s.email or "")
            if not isinstance(sender, int):
                return Failed(NO_SENDER, "the reply to answer names no sender mailbox")
            sent = await client.reply_in_thread(
                s.answer_reply_id, s.body, sender_email_id=sender, to=[to]
            )
        else:
            senders = [e for e in await client.sender_emails() if isinstance(e.get("id"), int)]
            if not senders:
                return Failed(NO_SENDER, "EmailBison has no sender mailbox to send from")
            sent = await client.send_new_email(
                subject=s.subject or "",
                message=s.body,
                sender_email_id=int(senders[0]["id"]),
                to=[s.email or ""],
            )
        return Sent(KEY_COLUMNS[Channel.EMAIL], sent.reply_id)

    async def _find(self) -> int | str | None:
        s = self.subject
        if self.emailbison is not None:
            if s.answer_reply_id is None:
                return None  # a new e-mail has no thread to look in
            return await self.emailbison.find_sent_in_thread(s.answer_reply_id, s.body)
        if self.ghl is not None:
            return await self.ghl.find_sent_sms(await self._ghl_contact(self.ghl), s.body)
        return None  # Unipile: a started chat's id is unknown until it answers


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Reading:
    """A provider failure read for a reply and for the provider's health."""

    outcome: Outcome
    health: HealthResult | None
    limited_until: datetime | None = None


def read_failure(
    failure: ProviderFailure, channel: Channel, holds: int, backoff_s: float, retries: int
) -> Reading:
    category, message = failure.category, failure.message
    if category == ProviderCategory.AUTH:
        return Reading(
            Held(HoldReason.HEALTH_GATED, category, message, now()),
            HealthResult(HealthStatus.AUTH_FAILED, category, message),
        )
    if category == ProviderCategory.DISCONNECTED:
        return Reading(
            Held(HoldReason.HEALTH_GATED, category, message, now()),
            HealthResult(HealthStatus.DISCONNECTED, category, message),
        )
    if category == ProviderCategory.INVALID_RECIPIENT:
        reason = failure.provider_code or "invalid_recipient"
        return Reading(Failed(category, message, quarantine_reason=reason), None)
    if category == ProviderCategory.RATE_LIMITED:
        wait = failure.retry_after_s
        if wait is None:
            wait = seconds_until_tomorrow() if channel is Channel.LINKEDIN else 60
        until = now() + timedelta(seconds=wait)
        return Reading(
            Held(HoldReason.RATE_LIMITED, category, message, until),
            HealthResult(HealthStatus.RATE_LIMITED, category, message),
            until,
        )
    if failure.status is not None and 400 <= failure.status < 500:
        # Refused as sent (not a provider outage): repeating the same request cannot help.
        return Reading(Failed(category, message), None)
    health = HealthResult(HealthStatus.DEGRADED, category, message)
    if holds >= retries:
        return Reading(Failed(category, f"{message} (gave up after {holds} retries)"), health)
    until = now() + timedelta(seconds=backoff_s * 2**holds)
    return Reading(Held(HoldReason.PROVIDER_ERROR, category, message, until), health)
