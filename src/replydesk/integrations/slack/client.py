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
from replydesk.integrations.provider_client import Answer, Call, ProviderClient

ENDPOINT = "POST incoming webhook"


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
        status, call = answer.status, answer.call
        reason = self.scrub(answer.text.strip() or "no body")
        if status in (401, 403, 404, 410):
            category = ProviderCategory.AUTH if status < 404 else ProviderCategory.DISCONNECTED
            return self.failure(
                call,
                category,
                f"refused ({reason})",
                "the webhook was revoked or removed, or its channel archived — "
                "set a new Slack webhook URL",
                status=status,
            )
        if status == 400:
            return self.failure(
                call,
                ProviderCategory.ERROR,
                f"refused ({reason})",
                "the alert payload is invalid; not retried",
                status=status,
            )
        return self.generic_failure(answer, reason)

    async def post(self, text: str, *, blocks: Sequence[Mapping[str, Any]] | None = None) -> None:
        """Post one message (Slack answers 200 ``ok``)."""
        body: dict[str, Any] = {"text": text}
        if blocks:
            body["blocks"] = list(blocks)
        await self.send(Call("POST", "", ENDPOINT, False, json=body))
