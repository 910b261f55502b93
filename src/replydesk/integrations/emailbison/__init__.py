"""EmailBison (Inboxxia): e-mail campaigns, replies, opens, bounces, unsubscribes."""

from __future__ import annotations

from replydesk.integrations.base import ProviderName, WebhookProvider
from replydesk.integrations.emailbison import events, webhook

PROVIDER = WebhookProvider.of(ProviderName.EMAILBISON, webhook, events, canonical_type=str.upper)
