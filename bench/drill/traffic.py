"""Synthetic provider traffic shaped like the 18:13 burst, and what it must produce."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

BASE_TIME = datetime(2026, 1, 23, 18, 13, tzinfo=UTC)
INSTANCE = "https://send.drill-bison.example"


@dataclass
class Delivery:
    provider: str
    body: bytes
    event_key: str  # identity of the logical event (re-deliveries share it)
    concurrent_with: int | None = None  # index of the original this duplicates


@dataclass
class Plan:
    deliveries: list[Delivery]
    distinct_events: int
    distinct_leads: int
    replying_leads: int
    counts_by_kind: dict[str, int] = field(default_factory=dict)


def _ts(seconds: int) -> str:
    return (BASE_TIME + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def _bison(kind: str, n: int, person: int) -> dict[str, object]:
    lead = {
        "id": 10_000 + person,
        "email": f"lead{person}@drill.example",
        "first_name": f"Lead{person}",
        "last_name": "Drill",
        "company": f"Company {person % 97}",
        "status": "active",
    }
    sender = {"id": 9, "email": "sam@acme-mail.example", "name": "Sam"}
    scheduled = {"id": 500_000 + n, "lead_id": lead["id"], "sent_at": _ts(n), "status": "sent"}
    data: dict[str, object] = {"lead": lead, "sender_email": sender, "campaign": {"id": 77}}
    if kind == "EMAIL_SENT":
        data["scheduled_email"] = {
            **scheduled,
            "email_subject": "Quick question",
            "email_body": "Hi",
        }
        data["campaign_event"] = {"id": 900_000 + n, "type": "sent", "created_at": _ts(n)}
    else:
        data["reply"] = {
            "id": 700_000 + n,
            "email_subject": "Re: Quick question",
            "text_body": f"Reply {n}: sounds good",
            "date_received": _ts(n + 3600),
            "from_email_address": lead["email"],
            "from_name": lead["first_name"],
            "folder": "Inbox",
            "interested": False,
            "automated_reply": False,
        }
        data["scheduled_email"] = scheduled
        data["campaign_event"] = {"id": 900_000 + n, "type": "replied", "created_at": _ts(n)}
    name = {"EMAIL_SENT": "Email Sent", "LEAD_REPLIED": "Contact Replied"}[kind]
    return {
        "event": {
            "type": kind,
            "name": name,
            "instance_url": INSTANCE,
            "workspace_id": 1,
            "workspace_name": "Drill",
        },
        "data": data,
    }


def _ghl(n: int, person: int) -> dict[str, object]:
    return {
        "type": "InboundMessage",
        "locationId": "loc_drill",
        "contactId": f"ct_{person}",
        "conversationId": f"cv_{person}",
        "messageId": f"msg_{n}",
        "body": f"SMS {n}",
        "contentType": "text/plain",
        "dateAdded": _ts(n + 3600),
        "direction": "inbound",
        "messageType": "SMS",
        "status": "delivered",
        "from": f"+1512555{person % 10_000:04d}",
        "to": "+15125550100",
        "attachments": [],
        "messageTypeId": 2,
        "messageTypeString": "TYPE_SMS",
    }


def _unipile(n: int, person: int) -> dict[str, object]:
    return {
        "account_id": "acc_drill",
        "account_type": "LINKEDIN",
        "event": "message_received",
        "chat_id": f"chat_{person}",
        "timestamp": _ts(n + 3600),
        "webhook_name": "replydesk",
        "message_id": f"umsg_{n}",
        "message": f"LinkedIn {n}",
        "sender": {
            "attendee_id": f"att_{person}",
            "attendee_name": f"Person {person}",
            "attendee_provider_id": f"ACoDrill{person}",
            "attendee_profile_url": f"https://www.linkedin.com/in/drill-{person}",
        },
        "attendees": [],
        "account_info": {"type": "LINKEDIN", "user_id": "ACoDrillOwner"},
    }


def build_plan(events: int, leads: int, duplicate_share: float, seed: int = 18_13) -> Plan:
    """``events`` deliveries in all, of which ``duplicate_share`` are re-deliveries.

    Mix of distinct events: 80 % EMAIL_SENT, 15 % LEAD_REPLIED, 5 % GHL + Unipile inbound.
    People: 90 % of ``leads`` are e-mail leads, 5 % SMS contacts, 5 % LinkedIn contacts.
    """
    rng = random.Random(seed)
    distinct = max(1, round(events * (1 - duplicate_share)))
    email_people = max(1, int(leads * 0.9))
    sms_people = max(1, (leads - email_people) // 2)
    li_people = max(1, leads - email_people - sms_people)
    originals: list[Delivery] = []
    people_seen: set[str] = set()
    repliers: set[str] = set()
    kinds: dict[str, int] = {}
    for n in range(distinct):
        roll = rng.random()
        if roll < 0.80:
            person = rng.randrange(email_people)
            payload, provider, kind = _bison("EMAIL_SENT", n, person), "emailbison", "EMAIL_SENT"
            who = f"e{person}"
        elif roll < 0.95:
            person = rng.randrange(email_people)
            payload, provider, kind = (
                _bison("LEAD_REPLIED", n, person),
                "emailbison",
                "LEAD_REPLIED",
            )
            who = f"e{person}"
            repliers.add(who)
        elif roll < 0.975:
            person = rng.randrange(sms_people)
            payload, provider, kind = _ghl(n, person), "ghl", "GHL_INBOUND"
            who = f"s{person}"
            repliers.add(who)
        else:
            person = rng.randrange(li_people)
            payload, provider, kind = _unipile(n, person), "unipile", "UNIPILE_INBOUND"
            who = f"l{person}"
            repliers.add(who)
        people_seen.add(who)
        kinds[kind] = kinds.get(kind, 0) + 1
        originals.append(Delivery(provider, json.dumps(payload).encode(), f"{kind}:{n}"))

    # Each delivery gets a place in the send order; sorting once keeps this O(n log n) (list
    # inserts after an index() search made a 100,000-delivery plan take minutes).
    placed: list[tuple[float, int, Delivery]] = [(float(i), 0, d) for i, d in enumerate(originals)]
    for k in range(events - distinct):
        index = rng.randrange(distinct)
        original = originals[index]
        duplicate = Delivery(original.provider, original.body, original.event_key, index)
        # Half right behind the original (the two in flight at once), half anywhere after it.
        place = index + 0.5 if rng.random() < 0.5 else rng.uniform(index + 0.5, distinct)
        placed.append((place, k + 1, duplicate))
    placed.sort(key=lambda p: (p[0], p[1]))
    deliveries = [d for _, _, d in placed]
    return Plan(deliveries, distinct, len(people_seen), len(repliers), kinds)
