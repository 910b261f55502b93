"""Unipile: LinkedIn messaging of a connected account."""

from __future__ import annotations

from replydesk.integrations.base import ProviderName, WebhookProvider
from replydesk.integrations.unipile import events, webhook

PROVIDER = WebhookProvider(
    name=ProviderName.UNIPILE,
    parse=webhook.parse,
    handlers=events.HANDLERS,
    lead_key=events.lead_key,
)
