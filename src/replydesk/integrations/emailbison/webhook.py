"""EmailBison (Inboxxia): envelope ``{"event": {...}, "data": {...}}``, no signature.

Dedupe key suffix: ``{instance}:{bison_workspace}:{TYPE}:{id part}`` where the id part depends on
the event type (see docs/ingestion.md). ``instance`` is ``event.instance_url`` without scheme and
trailing slash, lower-cased; ids are per-instance integers, hence the scoping.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from replydesk.core.errors import InvalidInput
from replydesk.integrations.base import IGNORED, PENDING, ParsedEvent, Scope
from replydesk.integrations.keys import (
    body_hash,
    check_scope,
    event_type_field,
    get_path,
    ident,
    key_part,
    text_field,
)
from replydesk.integrations.readers import check_storable

REPLY_EVENTS = frozenset(
    {
        "LEAD_REPLIED",
        "LEAD_INTERESTED",
        "UNTRACKED_REPLY_RECEIVED",
        "EMAIL_BOUNCED",
        "MANUAL_EMAIL_SENT",
    }
)
SCHEDULED_EMAIL_EVENTS = frozenset({"EMAIL_SENT", "LEAD_FIRST_CONTACTED"})
OPEN_EVENTS = frozenset({"EMAIL_OPENED"})
UNSUBSCRIBE_EVENTS = frozenset({"LEAD_UNSUBSCRIBED"})
MAILBOX_EVENTS = frozenset(
    {
        "EMAIL_ACCOUNT_ADDED",
        "EMAIL_ACCOUNT_REMOVED",
        "EMAIL_ACCOUNT_DISCONNECTED",
        "EMAIL_ACCOUNT_RECONNECTED",
        "WARMUP_DISABLED_RECEIVING_BOUNCES",
        "WARMUP_DISABLED_CAUSING_BOUNCES",
    }
)
KNOWN_EVENTS = (
    REPLY_EVENTS | SCHEDULED_EMAIL_EVENTS | OPEN_EVENTS | UNSUBSCRIBE_EVENTS | MAILBOX_EVENTS
)

# Ids stored in BIGINT columns and times stored as timestamptz, checked on the request path.
STORED_IDS = (
    "event.workspace_id",
    "data.reply.id",
    "data.scheduled_email.id",
    "data.campaign_event.id",
    "data.lead.id",
    "data.sender_email.id",
)
STORED_TIMES = (
    "data.reply.date_received",
    "data.reply.created_at",
    "data.scheduled_email.sent_at",
    "data.campaign_event.created_at",
)

# Mailbox events carry no event id: re-deliveries within one bucket collapse into one row.
MAILBOX_BUCKET_S = 600


def normalise_instance(url: str) -> str:
    """``https://Send.Example.com/`` → ``send.example.com`` (scheme and case do not matter)."""
    value = url.strip().lower()
    for scheme in ("https://", "http://"):
        if value.startswith(scheme):
            value = value[len(scheme) :]
            break
    return value.rstrip("/")


def _bison_workspace(value: Any) -> str | None:
    text = ident(value, "event.workspace_id", required=False)
    return text


def _check_scope(instance: str | None, bison_ws: str | None, scope: Scope) -> None:
    expected = scope.emailbison_instance_url
    expected_instance = normalise_instance(expected) if expected is not None else None
    check_scope(
        instance,
        expected_instance,
        field="event.instance_url",
        what="EmailBison instance",
        required=True,
        accepts=f"EmailBison events from {expected_instance}",
    )
    expected_ws = scope.emailbison_workspace_id
    check_scope(
        bison_ws,
        str(expected_ws) if expected_ws is not None else None,
        field="event.workspace_id",
        what="EmailBison workspace",
        required=True,
    )


def id_part(event_type: str, payload: Mapping[str, Any], received_at: datetime) -> str:
    """The event's own part of the dedupe key (also the external id of its timeline event)."""

    def need(path: str) -> str:
        value = ident(get_path(payload, path), path, context=f"for {event_type} events")
        assert value is not None
        return key_part(value)

    if event_type in REPLY_EVENTS:
        return "reply:" + need("data.reply.id")
    if event_type in SCHEDULED_EMAIL_EVENTS:
        return "scheduled_email:" + need("data.scheduled_email.id")
    if event_type in OPEN_EVENTS:
        # One row per tracked open: an e-mail can be opened many times.
        return "campaign_event:" + need("data.campaign_event.id")
    if event_type in UNSUBSCRIBE_EVENTS:
        lead = need("data.lead.id")
        event = ident(get_path(payload, "data.campaign_event.id"), "data.campaign_event.id")
        return f"lead:{lead}:campaign_event:{key_part(event) if event else '-'}"
    if event_type in MAILBOX_EVENTS:
        bucket = int(received_at.timestamp()) // MAILBOX_BUCKET_S
        return f"sender_email:{need('data.sender_email.id')}:t{bucket}"
    # Unknown types: kept (status ignored), deduplicated on their content.
    return "sha256:" + body_hash(payload)


def parse(payload: Mapping[str, Any], scope: Scope, received_at: datetime) -> ParsedEvent:
    event = payload.get("event")
    if event is None:
        raise InvalidInput("event is required (an object with type, instance_url, workspace_id)")
    if not isinstance(event, Mapping):
        raise InvalidInput("event must be an object")
    event_type = event_type_field(event.get("type"), "event.type").upper()
    raw_instance = text_field(event.get("instance_url"), "event.instance_url", required=False)
    instance = normalise_instance(raw_instance) if raw_instance else None
    bison_ws = _bison_workspace(event.get("workspace_id"))
    _check_scope(instance, bison_ws, scope)
    data = payload.get("data")
    if data is not None and not isinstance(data, Mapping):
        raise InvalidInput("data must be an object")
    check_storable(payload, ids=STORED_IDS, times=STORED_TIMES)
    event_id_part = id_part(event_type, payload, received_at)
    key = ":".join(
        (
            key_part(instance or "-"),
            key_part(bison_ws or "-"),
            key_part(event_type),
            event_id_part,
        )
    )
    status = PENDING if event_type in KNOWN_EVENTS else IGNORED
    return ParsedEvent(event_type=event_type, status=status, key=key)
