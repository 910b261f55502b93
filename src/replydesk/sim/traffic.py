"""Realistic webhook streams for ``replydesk sim traffic``: campaign sends, opens, replies,
SMS and LinkedIn messages shaped like the shared samples, with bursts and re-deliveries.

Each delivery is ``POST {target}/webhooks/{provider}/{workspace}`` with the workspace's webhook
token in ``X-Webhook-Token`` (kept out of URLs and access logs). A re-delivery sends an earlier
body again, byte for byte, as a provider retry would: ReplyDesk must answer it ``duplicate``.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

FIRST_NAMES = ("Dana", "Lee", "Ana", "Omar", "Mia", "Jon", "Priya", "Kai", "Sara", "Tom")
LAST_NAMES = ("Reyes", "Park", "Silva", "Haddad", "Novak", "Berg", "Shah", "Ito", "Klein", "Ruiz")
COMPANIES = ("Northwind", "Contoso", "Fabrikam", "Initech", "Globex", "Umbrella")
# One or more replies per category of the vocabulary (automation/categorise), so a stream
# (and ``replydesk demo``) fills every inbox filter.
REPLIES = (
    "Sounds good, can we talk Tuesday?",
    "Not interested, please remove me.",
    "Who else is using this?",
    "Can you send pricing?",
    "I'm out of office until Monday.",
    "Yes, this is interesting. Tell me more.",
    "Can we book a call on Thursday at 2pm?",
    "I'm not the right person for this, please reach out to Jordan, our ops lead.",
    "Wrong person, I left that team last year.",
    "Please unsubscribe me from this list.",
    "Thanks for the note.",
)


@dataclass(frozen=True)
class Scope:
    """The provider tenant the workspace is scoped to (ReplyDesk refuses other scopes)."""

    emailbison_instance_url: str = "https://send.example-bison.com"
    emailbison_workspace_id: int = 12
    ghl_location_id: str = "loc_7Hq2kP"
    unipile_account_id: str = "acc_LnK4e"


@dataclass(frozen=True)
class TrafficConfig:
    target: str
    workspace: str
    token: str
    rate: float = 20.0  # deliveries per second after the burst
    burst: int = 0  # deliveries sent at once before the steady stream
    count: int = 100  # deliveries in total (re-deliveries included)
    redeliver: float = 0.1  # share of deliveries that repeat an earlier one
    providers: tuple[str, ...] = ("emailbison", "ghl", "unipile")
    scope: Scope = field(default_factory=Scope)
    seed: int | None = None
    timeout_s: float = 10.0


@dataclass
class TrafficReport:
    sent: int = 0
    redeliveries: int = 0
    by_status: Counter[str] = field(default_factory=Counter)  # "202 accepted", "200 duplicate"
    by_provider: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)  # transport errors by type
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "redeliveries": self.redeliveries,
            "by_status": dict(self.by_status),
            "by_provider": dict(self.by_provider),
            "errors": dict(self.errors),
            "seconds": round(self.seconds, 3),
        }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Payloads:
    """Deterministic (per seed) webhook bodies for a growing set of leads."""

    def __init__(self, scope: Scope, rng: random.Random) -> None:
        self.scope = scope
        self.rng = rng
        self.n = 0

    def _person(self, lead: int) -> tuple[str, str, str, str]:
        first = FIRST_NAMES[lead % len(FIRST_NAMES)]
        last = LAST_NAMES[(lead // len(FIRST_NAMES)) % len(LAST_NAMES)]
        company = COMPANIES[lead % len(COMPANIES)]
        return first, last, company, f"{first}.{last}{lead}@{company}.example".lower()

    def _bison(self, event_type: str, name: str, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "event": {
                "type": event_type,
                "name": name,
                "instance_url": self.scope.emailbison_instance_url,
                "workspace_id": self.scope.emailbison_workspace_id,
                "workspace_name": "Simulated workspace",
            },
            "data": data,
        }

    def _bison_blocks(self, lead: int) -> dict[str, Any]:
        first, last, company, email = self._person(lead)
        return {
            "scheduled_email": {
                "id": 500_000 + lead,
                "lead_id": 10_000 + lead,
                "sequence_step_id": 3,
                "sequence_step_order": 1,
                "email_subject": f"Quick question, {first}",
                "email_body": f"<p>Hi {first}, ...</p>",
                "status": "sent",
                "sent_at": _now(),
                "raw_message_id": f"<sim{lead}@acme-mail.example>",
            },
            "lead": {
                "id": 10_000 + lead,
                "email": email,
                "first_name": first,
                "last_name": last,
                "status": "active",
                "company": company,
                "custom_variables": [],
            },
            "campaign": {"id": 77, "name": "Q4 Ops leaders"},
            "sender_email": {"id": 9, "email": "sam@acme-mail.example", "name": "Sam from Acme"},
        }

    def campaign_send(self, lead: int) -> tuple[str, dict[str, Any]]:
        data = self._bison_blocks(lead)
        data["campaign_event"] = {"id": 700_000 + lead, "type": "sent", "created_at": _now()}
        return "emailbison", self._bison("EMAIL_SENT", "Email Sent", data)

    def open(self, lead: int) -> tuple[str, dict[str, Any]]:
        data = self._bison_blocks(lead)
        event_id = 800_000 + self.n
        data["campaign_event"] = {"id": event_id, "type": "opened", "created_at": _now()}
        return "emailbison", self._bison("EMAIL_OPENED", "Email Opened", data)

    def reply(self, lead: int) -> tuple[str, dict[str, Any]]:
        first, last, _company, email = self._person(lead)
        data = self._bison_blocks(lead)
        text = self.rng.choice(REPLIES)
        data["campaign_event"] = {"id": 900_000 + self.n, "type": "replied", "created_at": _now()}
        data["reply"] = {
            "id": 2_000_000 + self.n,
            "uuid": f"4f0a3c1e-0000-4000-8000-{self.n:012d}",
            "email_subject": f"Re: Quick question, {first}",
            "interested": text.startswith("Sounds"),
            "automated_reply": text.startswith("I'm out"),
            "html_body": f"<p>{text}</p>",
            "text_body": text,
            "date_received": _now(),
            "from_name": f"{first} {last}",
            "from_email_address": email,
            "primary_to_email_address": "sam@acme-mail.example",
            "folder": "Inbox",
            "type": "Tracked Reply",
            "raw_message_id": f"<reply{self.n}@mail.example>",
            "parent_id": None,
            "attachments": [],
        }
        return "emailbison", self._bison("LEAD_REPLIED", "Contact Replied", data)

    def sms(self, lead: int) -> tuple[str, dict[str, Any]]:
        return "ghl", {
            "type": "InboundMessage",
            "locationId": self.scope.ghl_location_id,
            "contactId": f"ct_sim{lead}",
            "conversationId": f"cv_sim{lead}",
            "messageId": f"msg_sim{self.n}",
            "body": self.rng.choice(REPLIES),
            "contentType": "text/plain",
            "dateAdded": _now(),
            "direction": "inbound",
            "messageType": "SMS",
            "status": "delivered",
            "from": f"+1512555{lead % 10_000:04d}",
            "to": "+15125550100",
            "attachments": [],
            "messageTypeId": 2,
            "messageTypeString": "TYPE_SMS",
        }

    def linkedin(self, lead: int) -> tuple[str, dict[str, Any]]:
        first, last, _company, _email = self._person(lead)
        return "unipile", {
            "account_id": self.scope.unipile_account_id,
            "account_type": "LINKEDIN",
            "event": "message_received",
            "chat_id": f"chat_sim{lead}",
            "timestamp": _now(),
            "webhook_name": "replydesk",
            "message_id": f"umsg_sim{self.n}",
            "message": self.rng.choice(REPLIES),
            "sender": {
                "attendee_id": f"att_{lead}",
                "attendee_name": f"{first} {last}",
                "attendee_provider_id": f"ACoAASim{lead}",
                "attendee_profile_url": f"https://www.linkedin.com/in/{first}-{last}-{lead}".lower(),
            },
            "attendees": [
                {
                    "attendee_id": "att_0",
                    "attendee_name": "Sam Acme",
                    "attendee_provider_id": "ACoAAOwnerX",
                    "attendee_profile_url": "https://www.linkedin.com/in/sam-acme-example",
                }
            ],
            "account_info": {"type": "LINKEDIN", "user_id": "ACoAAOwnerX"},
        }

    def stream(self, providers: tuple[str, ...]) -> Iterator[tuple[str, dict[str, Any]]]:
        """Campaign sends to new leads, then opens and replies on any channel of earlier ones."""
        kinds = [
            (self.campaign_send, "emailbison", 4),
            (self.open, "emailbison", 2),
            (self.reply, "emailbison", 2),
            (self.sms, "ghl", 2),
            (self.linkedin, "unipile", 2),
        ]
        usable = [(make, weight) for make, provider, weight in kinds if provider in providers]
        leads = 0
        while True:
            self.n += 1
            make = self.rng.choices([m for m, _ in usable], [w for _, w in usable])[0]
            if make == self.campaign_send or leads == 0:
                leads += 1
                lead = leads
            else:
                lead = self.rng.randint(1, leads)
            yield make(lead)


async def run_traffic(
    config: TrafficConfig, http: httpx.AsyncClient | None = None
) -> TrafficReport:
    """Send ``config.count`` deliveries: ``burst`` at once, the rest at ``rate`` per second."""
    rng = random.Random(config.seed)
    payloads = Payloads(config.scope, rng).stream(config.providers)
    report = TrafficReport()
    sent: list[tuple[str, bytes]] = []
    base = config.target.rstrip("/")
    headers = {"content-type": "application/json", "x-webhook-token": config.token}
    client = http or httpx.AsyncClient(timeout=config.timeout_s)

    def next_delivery() -> tuple[str, bytes]:
        if sent and rng.random() < config.redeliver:
            report.redeliveries += 1
            return rng.choice(sent)
        provider, body = next(payloads)
        delivery = (provider, json.dumps(body).encode())
        sent.append(delivery)
        return delivery

    async def deliver(provider: str, body: bytes) -> None:
        url = f"{base}/webhooks/{provider}/{config.workspace}"
        report.sent += 1
        report.by_provider[provider] += 1
        try:
            resp = await client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            report.errors[type(exc).__name__] += 1
            return
        try:
            status = resp.json().get("status") or resp.json().get("error", {}).get("code")
        except (ValueError, AttributeError):
            status = None
        report.by_status[f"{resp.status_code} {status or ''}".strip()] += 1

    started = time.monotonic()
    try:
        burst = min(config.burst, config.count)
        await asyncio.gather(*(deliver(*next_delivery()) for _ in range(burst)))
        interval = 1.0 / config.rate if config.rate > 0 else 0.0
        tasks: list[asyncio.Task[None]] = []
        for i in range(config.count - burst):
            tasks.append(asyncio.create_task(deliver(*next_delivery())))
            if interval:
                # Paced from the start, so slow answers do not lower the rate.
                await asyncio.sleep(max(0.0, started + (i + 1) * interval - time.monotonic()))
        await asyncio.gather(*tasks)
    finally:
        report.seconds = time.monotonic() - started
        if http is None:
            await client.aclose()
    return report
