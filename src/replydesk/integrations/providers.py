"""Every provider ReplyDesk speaks, by the name used in webhook URLs and stored events."""

from __future__ import annotations

from replydesk.integrations import emailbison, ghl, unipile
from replydesk.integrations.base import WebhookProvider

PROVIDERS: dict[str, WebhookProvider] = {
    p.name.value: p for p in (emailbison.PROVIDER, ghl.PROVIDER, unipile.PROVIDER)
}
