"""Unipile (LinkedIn messaging): flat payload routed on ``event``; no signature scheme.

Dedupe key suffix: ``{account_id}:{event}:{message_id}``. A message has many reactions, so
``message_reaction`` adds a hash of the reaction and who reacted; ``message_read`` keeps one row
per message (being read is a state, not a stream).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from replydesk.integrations import keys
from replydesk.integrations.base import IGNORED, PENDING, ParsedEvent, Scope
from replydesk.integrations.readers import check_storable

KNOWN_EVENTS = frozenset({"message_received", "message_read", "message_reaction"})


def _check_scope(account: str | None, scope: Scope, required: bool) -> None:
    keys.check_scope(
        account,
        scope.unipile_account_id,
        field="account_id",
        what="Unipile account",
        required=required,
    )


def parse(payload: Mapping[str, Any], scope: Scope, received_at: datetime) -> ParsedEvent:
    del received_at
    event_type = keys.event_type_field(payload.get("event"), "event").lower()
    known = event_type in KNOWN_EVENTS
    account = keys.ident(payload.get("account_id"), "account_id", required=known)
    _check_scope(account, scope, required=known)
    if known:
        check_storable(payload, times=("timestamp",))
        message_id = keys.ident(
            payload.get("message_id"), "message_id", context=f"for {event_type} events"
        )
        assert message_id is not None
        id_part = keys.key_part(message_id)
        if event_type == "message_reaction":
            # The reaction's field names are not confirmed by Unipile's docs: without a
            # ``reaction`` field the whole (canonical) body identifies the delivery.
            reaction = payload.get("reaction")
            if reaction is not None:
                who = payload.get("reaction_sender", payload.get("sender"))
                digest = keys.text_hash(keys.optional_text(reaction), keys.optional_text(who))
            else:
                digest = keys.body_hash(payload)
            id_part += ":" + digest[:32]
        status = PENDING
    else:
        id_part = "sha256:" + keys.body_hash(payload)
        status = IGNORED
    key = ":".join((keys.key_part(account or "-"), keys.key_part(event_type), id_part))
    return ParsedEvent(event_type=event_type, status=status, key=key)
