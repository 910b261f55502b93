"""The counts property test's history: provider deliveries, the independent Python model of
what they do to the counts, and the original-style slow reference query over messages
(tests/inbox/test_counts_property.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

T0 = datetime(2026, 1, 23, 18, 0, tzinfo=UTC)
FAR_FUTURE = datetime.now(UTC) + timedelta(days=365)
FAR_PAST = datetime(2020, 1, 1, tzinfo=UTC)
OWN_LINKEDIN = "ACoAAOwnerX"
EMAILS = ("dana@northwind.example", "omar@contoso.example")
PHONE = "+15125550143"
GHL_CONTACT = "ct_91XbQe"
LINKEDIN_LEAD = "ACoAAB1x2y3"
MODEL_KEY = {"email0": EMAILS[0], "email1": EMAILS[1], "sms": "sms", "linkedin": "linkedin"}
RANK = {"active": 0, "bounced": 1, "unsubscribed": 2, "closed": 3}
# Reference: the original system's shape, a CTE over every message of the workspace.
SLOW_REFERENCE_SQL = text(
    """
    WITH per_lead AS (
        SELECT lead_id,
               max(occurred_at) FILTER (WHERE direction = 'inbound') AS last_in,
               max(occurred_at) FILTER (WHERE direction = 'outbound'
                                          AND sent_by IN ('team', 'ai')) AS last_team
          FROM messages WHERE workspace_id = :ws GROUP BY lead_id
    ), last_channel AS (
        SELECT DISTINCT ON (lead_id) lead_id, channel
          FROM messages WHERE workspace_id = :ws AND direction = 'inbound'
         ORDER BY lead_id, occurred_at DESC, channel DESC
    )
    SELECT l.id, c.channel, l.category, m.last_in
      FROM leads l
      JOIN per_lead m ON m.lead_id = l.id
      LEFT JOIN last_channel c ON c.lead_id = l.id
     WHERE l.workspace_id = :ws
       AND m.last_in IS NOT NULL
       AND (m.last_team IS NULL OR m.last_in > m.last_team)
       AND l.status NOT IN ('unsubscribed', 'closed')
       AND (l.snoozed_until IS NULL OR l.snoozed_until <= now())
    """
)


def iso(minute: int) -> str:
    return (T0 + timedelta(minutes=minute)).isoformat().replace("+00:00", "Z")


# --- the model -------------------------------------------------------------------------------


@dataclass
class ModelLead:
    messages: dict[str, tuple[str, str, str, int]] = field(default_factory=dict)
    status: str = "active"
    category: str | None = None
    manual: bool = False  # an operator set the category: provider signals never replace it
    snoozed: bool = False

    def attention_channel(self) -> tuple[bool, str | None]:
        inbound = [(t, ch) for ch, d, _, t in self.messages.values() if d == "inbound"]
        team = [t for _, d, by, t in self.messages.values() if d == "outbound" and by == "team"]
        if not inbound:
            return False, None
        last_in, channel = max(inbound)
        waiting = not team or last_in > max(team)
        ok = waiting and self.status not in ("unsubscribed", "closed") and not self.snoozed
        return ok, channel


def expected_counts(model: dict[str, ModelLead]) -> dict[str, Any]:
    by_channel = {"email": 0, "sms": 0, "linkedin": 0}
    by_category: dict[str, int] = {}
    total = 0
    for lead in model.values():
        ok, channel = lead.attention_channel()
        if ok:
            total += 1
            assert channel is not None
            by_channel[channel] += 1
            key = lead.category or "uncategorized"
            by_category[key] = by_category.get(key, 0) + 1
    return {
        "requires_attention": total,
        "by_channel": by_channel,
        "by_category": dict(sorted(by_category.items())),
        "total_leads": len(model),
    }


# --- events ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    lead: str  # model key
    provider: str
    event_type: str
    payload: dict[str, Any]
    message: tuple[str, str, str, str, int] | None  # (key, channel, direction, sent_by, minute)
    status: str | None = None
    category: str | None = None


def delivery(kind: str, who: int, minute: int, serial: int) -> Delivery:
    email = EMAILS[who % len(EMAILS)]
    lead = {"email": email, "first_name": "Dana", "last_name": "Reyes"}
    key = f"{kind}:{serial}"
    if kind in ("bison_reply", "bison_interested"):
        event_type = "LEAD_INTERESTED" if kind == "bison_interested" else "LEAD_REPLIED"
        reply = {"id": serial, "date_received": iso(minute), "from_email_address": email}
        return Delivery(
            email,
            "emailbison",
            event_type,
            {"event": {"type": event_type}, "data": {"reply": reply, "lead": lead}},
            (key, "email", "inbound", "lead", minute),
            category="interested" if kind == "bison_interested" else None,
        )
    if kind == "bison_manual":
        reply = {"id": serial, "date_received": iso(minute), "primary_to_email_address": email}
        return Delivery(
            email,
            "emailbison",
            "MANUAL_EMAIL_SENT",
            {"event": {"type": "MANUAL_EMAIL_SENT"}, "data": {"reply": reply, "lead": lead}},
            (key, "email", "outbound", "team", minute),
        )
    if kind == "bison_campaign":
        sent = {"id": serial, "sent_at": iso(minute)}
        return Delivery(
            email,
            "emailbison",
            "EMAIL_SENT",
            {"event": {"type": "EMAIL_SENT"}, "data": {"scheduled_email": sent, "lead": lead}},
            (key, "email", "outbound", "campaign", minute),
        )
    if kind == "bison_unsubscribed":
        return Delivery(
            email,
            "emailbison",
            "LEAD_UNSUBSCRIBED",
            {"event": {"type": "LEAD_UNSUBSCRIBED"}, "data": {"lead": lead}},
            None,
            status="unsubscribed",
            category="unsubscribe",
        )
    if kind == "bison_bounced":
        payload = {
            "event": {"type": "EMAIL_BOUNCED"},
            "data": {"reply": {"id": serial}, "lead": lead},
        }
        return Delivery(email, "emailbison", "EMAIL_BOUNCED", payload, None, status="bounced")
    if kind.startswith("ghl_"):
        inbound = kind == "ghl_in"
        payload = {
            "type": "InboundMessage" if inbound else "OutboundMessage",
            "messageType": "SMS",
            "contactId": GHL_CONTACT,
            "messageId": f"msg_{serial}",
            "dateAdded": iso(minute),
            "body": "ok",
            ("from" if inbound else "to"): PHONE,
        }
        sent_by = "lead"
        if kind == "ghl_out_team":
            payload["userId"] = "usr_2"
            sent_by = "team"
        elif kind == "ghl_out_workflow":
            sent_by = "campaign"
        return Delivery(
            "sms",
            "ghl",
            str(payload["type"]),
            payload,
            (key, "sms", "inbound" if inbound else "outbound", sent_by, minute),
        )
    inbound = kind == "unipile_in"
    lead_attendee = {"attendee_provider_id": LINKEDIN_LEAD, "attendee_name": "Dana Reyes"}
    own = {"attendee_provider_id": OWN_LINKEDIN, "attendee_name": "Sam Acme"}
    payload = {
        "event": "message_received",
        "message_id": f"umsg_{serial}",
        "timestamp": iso(minute),
        "message": "hello",
        "sender": lead_attendee if inbound else own,
        "attendees": [own, lead_attendee],
        "account_info": {"user_id": OWN_LINKEDIN},
    }
    return Delivery(
        "linkedin",
        "unipile",
        "message_received",
        payload,
        (
            key,
            "linkedin",
            "inbound" if inbound else "outbound",
            "lead" if inbound else "team",
            minute,
        ),
    )


EVENT_KINDS = (
    "bison_reply",
    "bison_interested",
    "bison_manual",
    "bison_campaign",
    "bison_unsubscribed",
    "bison_bounced",
    "ghl_in",
    "ghl_out_team",
    "ghl_out_workflow",
    "unipile_in",
    "unipile_out",
)


class Groups:
    """Which model lead each identity's events go to (merges join groups)."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        while key in self.parent:
            key = self.parent[key]
        return key


def model_apply(model: dict[str, ModelLead], d: Delivery, groups: Groups) -> None:
    lead = model.setdefault(groups.find(d.lead), ModelLead())
    if d.message is not None:
        key, channel, direction, sent_by, minute = d.message
        lead.messages[key] = (channel, direction, sent_by, minute)
    if d.status is not None and RANK[d.status] > RANK[lead.status]:
        lead.status = d.status
    # Provider categories: never over an operator's; the unsubscribe (at the delivery time,
    # later than every reply here) stays over any interested reply.
    if d.category is not None and not lead.manual and lead.category != "unsubscribe":
        lead.category = d.category


def model_merge(model: dict[str, ModelLead], groups: Groups, a: str, b: str) -> None:
    """As leads.merges.merge: messages together, the higher status, the survivor's snooze,
    its category else the absorbed one's."""
    keep, gone = groups.find(MODEL_KEY[a]), groups.find(MODEL_KEY[b])
    absorbed = model.pop(gone)
    survivor = model[keep]
    survivor.messages.update(absorbed.messages)
    if RANK[absorbed.status] > RANK[survivor.status]:
        survivor.status = absorbed.status
    if survivor.category is None:
        survivor.category, survivor.manual = absorbed.category, absorbed.manual
    groups.parent[gone] = keep
