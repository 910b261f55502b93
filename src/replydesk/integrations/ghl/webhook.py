"""GoHighLevel / LeadConnector: flat payload routed on ``type``; signatures in signature.py.

Dedupe key suffix: ``{locationId}:{type}:{messageId}``; without ``messageId`` a sha256 of
``conversationId|direction|dateAdded|body``. Other types: ``webhookId`` or a content hash.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from replydesk.core.errors import InvalidInput
from replydesk.integrations import keys
from replydesk.integrations.base import IGNORED, PENDING, ParsedEvent, Scope
from replydesk.integrations.readers import check_storable

# Canonical spelling by lower-cased name: matched case-insensitively, stored canonically.
MESSAGE_EVENTS = {"inboundmessage": "InboundMessage", "outboundmessage": "OutboundMessage"}


def _check_scope(location: str | None, scope: Scope, required: bool) -> None:
    keys.check_scope(
        location, scope.ghl_location_id, field="locationId", what="GHL location", required=required
    )


def fallback_message_id(payload: Mapping[str, Any], event_type: str) -> str:
    """The identity of a message that carries no ``messageId``: a sha256 of its conversation,
    direction, time and body. The one definition, for the dedupe key and the stored message."""
    conversation = keys.ident(payload.get("conversationId"), "conversationId", required=False)
    date_added = keys.text_field(payload.get("dateAdded"), "dateAdded", required=False)
    if conversation is None or date_added is None:
        raise InvalidInput(
            f"messageId is required for {event_type} events "
            "(or conversationId and dateAdded to derive an id)"
        )
    digest = keys.text_hash(
        conversation,
        keys.optional_text(payload.get("direction")),
        date_added,
        keys.optional_text(payload.get("body")),
    )
    return "sha256:" + digest


def _message_id_part(payload: Mapping[str, Any], event_type: str) -> str:
    message_id = keys.ident(payload.get("messageId"), "messageId", required=False)
    if message_id is not None:
        return keys.key_part(message_id)
    return fallback_message_id(payload, event_type)


def parse(payload: Mapping[str, Any], scope: Scope, received_at: datetime) -> ParsedEvent:
    del received_at  # GHL keys never depend on arrival time
    raw_type = keys.event_type_field(payload.get("type"), "type")
    canonical = MESSAGE_EVENTS.get(raw_type.lower())
    is_message = canonical is not None
    location = keys.ident(payload.get("locationId"), "locationId", required=is_message)
    _check_scope(location, scope, required=is_message)
    if canonical is not None:
        check_storable(payload, times=("dateAdded",))
        id_part = _message_id_part(payload, canonical)
        event_type, status = canonical, PENDING
    else:
        webhook_id = keys.ident(payload.get("webhookId"), "webhookId", required=False)
        id_part = keys.key_part(webhook_id) if webhook_id else "sha256:" + keys.body_hash(payload)
        event_type, status = raw_type, IGNORED
    key = ":".join((keys.key_part(location or "-"), keys.key_part(event_type), id_part))
    return ParsedEvent(event_type=event_type, status=status, key=key)
