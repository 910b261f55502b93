"""EmailBison (Inboxxia): e-mail campaigns, replies, opens, bounces, unsubscribes."""

from __future__ import annotations

from replydesk.integrations.base import ProviderName, WebhookProvider
from replydesk.integrations.emailbison import events, webhook

PROVIDER = WebhookProvider(
    name=ProviderName.EMAILBISON,
    parse=webhook.parse,
    handlers=events.HANDLERS,
    lead_key=events.lead_key,
    canonical_type=str.upper,
)
