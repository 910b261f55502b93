"""GoHighLevel / LeadConnector: SMS conversations; webhooks may be signed (RSA or Ed25519)."""

from __future__ import annotations

from replydesk.integrations.base import ProviderName, WebhookProvider
from replydesk.integrations.ghl import events, signature, webhook

PROVIDER = WebhookProvider.of(
    ProviderName.GHL,
    webhook,
    events,
    load_keys=signature.load_workspace_keys,
    verify=signature.verify_ghl,
    # GHL retries a webhook only when it is answered 429 (providers.md): a 503 would lose it.
    outage_status=429,
)
