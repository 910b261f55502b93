"""What every provider package offers, and the shapes shared between them and their callers.

A provider is a ``WebhookProvider``: ``parse`` validates a webhook body and derives its dedupe
key (on the request path, no database), ``verify`` checks a signature when the provider signs,
and ``handlers`` turn a stored event into lead commands (in a worker, in the caller's
transaction).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:  # planning builds on this module's shapes
    from replydesk.integrations.planning import Planner


class ProviderName(StrEnum):
    """The providers, as named in webhook URLs and stored events."""

    EMAILBISON = "emailbison"
    GHL = "ghl"
    UNIPILE = "unipile"


# Stored event status: known event types are processed, unknown ones are kept for the record.
PENDING = "pending"
IGNORED = "ignored"


@dataclass(frozen=True)
class Scope:
    """A workspace's provider configuration (which provider tenant feeds it, which keys sign
    its webhooks); None = not configured, nothing to check."""

    emailbison_instance_url: str | None = None
    emailbison_workspace_id: int | None = None
    ghl_location_id: str | None = None
    unipile_account_id: str | None = None
    ghl_rsa_public_key: str | None = None
    ghl_ed25519_public_key: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> Scope:
        """From a row (or object) with an attribute per field, e.g. a ``workspaces`` row."""
        return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})


@dataclass(frozen=True)
class ParsedEvent:
    """The provider-specific part of an event: its type, status and dedupe key suffix.

    ``key`` is everything after ``{provider}:{workspace_id}:``; ingestion adds that prefix.
    """

    event_type: str
    status: str
    key: str


@dataclass(frozen=True)
class Event:
    """A stored webhook event, as its handler sees it."""

    workspace_id: uuid.UUID
    provider: str
    event_type: str
    payload: Mapping[str, Any]
    received_at: datetime


@dataclass(frozen=True)
class EventOutcome:
    """What processing did. ``skipped`` (a reason) means nothing was written."""

    skipped: str | None = None
    lead_id: int | None = None
    message_id: int | None = None
    message_created: bool = False


Parser = Callable[[Mapping[str, Any], Scope, datetime], ParsedEvent]
EventHandler = Callable[[AsyncSession, Event], Awaitable[EventOutcome]]
# Loaded once per workspace per auth-cache fill; ``verify`` raises Unauthenticated.
KeyLoader = Callable[[uuid.UUID, Scope], Any]
Verifier = Callable[[Any, bytes, Mapping[str, str]], None]


def _same(event_type: str) -> str:
    return event_type


class WebhookModule(Protocol):
    """A provider's ``webhook`` module: body validation and dedupe key."""

    def parse(
        self, body: Mapping[str, Any], scope: Scope, received_at: datetime
    ) -> ParsedEvent: ...


class EventsModule(Protocol):
    """A provider's ``events`` module: handlers per event type and the lead ordering key."""

    @property
    def HANDLERS(self) -> Mapping[str, EventHandler]: ...  # read-only: a module constant

    @property
    def PLANNERS(self) -> Mapping[str, Planner]: ...  # the message event types, planned

    def lead_key(self, payload: Mapping[str, Any]) -> str: ...


@dataclass(frozen=True)
class WebhookProvider:
    name: ProviderName
    parse: Parser
    handlers: Mapping[str, EventHandler]
    # Which lead an event is about, cheaply and without the database: only used to order
    # work so concurrent transactions lock leads in one global order.
    lead_key: Callable[[Mapping[str, Any]], str]
    # The stored event type as the handlers spell it (EmailBison types are case-insensitive).
    canonical_type: Callable[[str], str] = _same
    load_keys: KeyLoader | None = None
    verify: Verifier | None = None
    # How a webhook is answered while the database is away: the status the provider retries
    # on (GHL retries only on 429; docs/ingestion.md "When the database is away").
    outage_status: int = 503
    # Event types applied set-based in a group (integrations.planning); the rest one by one.
    planners: Mapping[str, Planner] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        name: ProviderName,
        webhook: WebhookModule,
        events: EventsModule,
        *,
        canonical_type: Callable[[str], str] = _same,
        load_keys: KeyLoader | None = None,
        verify: Verifier | None = None,
        outage_status: int = 503,
    ) -> WebhookProvider:
        """Assemble a provider from its package's ``webhook`` and ``events`` modules."""
        return cls(
            name,
            webhook.parse,
            events.HANDLERS,
            events.lead_key,
            canonical_type,
            load_keys,
            verify,
            outage_status,
            events.PLANNERS,
        )
