"""Unipile: LinkedIn messaging of a connected account."""

from __future__ import annotations

from replydesk.integrations.base import ProviderName, WebhookProvider
from replydesk.integrations.unipile import events, webhook

PROVIDER = WebhookProvider.of(ProviderName.UNIPILE, webhook, events)
