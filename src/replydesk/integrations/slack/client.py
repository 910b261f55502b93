"""Slack incoming-webhook client: ``POST`` JSON to the webhook URL, ``ok`` on success, a
plain-text reason otherwise.

The URL itself is the secret: error texts and logs name only ``hooks.slack.com`` and the
endpoint ``POST incoming webhook``, never the path. Slack has no idempotency key, so a post is
a send (never repeated once it may have left: alerts are at most once); a 429 carries
``Retry-After`` for the alert job to wait. 403/404/410 are permanent: the webhook is revoked,
removed or its channel archived.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import httpx

from replydesk.core.errors import ProviderCategory, ProviderFailure
from replydesk.integrations.provider_client import Answer, Call, ProviderClient, Refusal

ENDPOINT = "POST incoming webhook"
_GONE = "the webhook was revoked or removed, or its channel archived — set a new Slack webhook URL"
REFUSALS = {
    400: Refusal(ProviderCategory.ERROR, "refused", "the alert payload is invalid; not retried"),
    401: Refusal(ProviderCategory.AUTH, "refused", _GONE),
    403: Refusal(ProviderCategory.AUTH, "refused", _GONE),
    404: Refusal(ProviderCategory.DISCONNECTED, "refused", _GONE),
    410: Refusal(ProviderCategory.DISCONNECTED, "refused", _GONE),
}


class SlackWebhookClient(ProviderClient):
    provider: ClassVar[str] = "slack"

    def __init__(self, webhook_url: str, **kwargs: Any) -> None:
        # The whole URL is the credential: passing it as the key keeps it out of quoted text.
        super().__init__(webhook_url, webhook_url, **kwargs)

    def auth_headers(self) -> dict[str, str]:
        return {}

    def url_for(self, call: Call) -> str:
        return self.base_url

    def secrets(self) -> list[str]:
        path = httpx.URL(self.base_url).path
        parts = [p for p in path.split("/") if len(p) >= 8]
        return sorted({self.base_url, path, *parts}, key=len, reverse=True)

    def failure_for(self, answer: Answer) -> ProviderFailure:
        reason = self.scrub(answer.text.strip() or "no body")
        refusal = REFUSALS.get(answer.status)
        if refusal is not None:
            return self.refused(answer, refusal, reason)
        return self.generic_failure(answer, reason)

    async def post(self, text: str, *, blocks: Sequence[Mapping[str, Any]] | None = None) -> None:
        """Post one message (Slack answers 200 ``ok``)."""
        body: dict[str, Any] = {"text": text}
        if blocks:
            body["blocks"] = list(blocks)
        await self.send(Call("POST", "", ENDPOINT, False, json=body))
