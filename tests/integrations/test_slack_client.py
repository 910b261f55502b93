"""Slack incoming-webhook client against the simulator."""

from __future__ import annotations

import pytest

from replydesk.core.errors import ProviderFailure
from replydesk.integrations.slack.client import SlackWebhookClient
from replydesk.sim.server import SimServer
from tests.support.sim import FAST, add_fault, sim_requests


async def test_post_text_and_blocks(sim: SimServer) -> None:
    async with SlackWebhookClient(sim.base_url("slack"), policy=FAST) as slack:
        await slack.post("EmailBison auth failed", blocks=[{"type": "section"}])
    assert sim.sim.slack.posts == [
        {"text": "EmailBison auth failed", "blocks": [{"type": "section"}]}
    ]
    assert len(await sim_requests(sim, "slack")) == 1


@pytest.mark.parametrize(
    ("status", "category"),
    [
        (400, "provider_error"),
        (403, "provider_auth"),
        (404, "provider_disconnected"),
        (410, "provider_disconnected"),
    ],
)
async def test_refusals_never_name_the_webhook_path(
    sim: SimServer, status: int, category: str
) -> None:
    await add_fault(sim, provider="slack", status=status)
    async with SlackWebhookClient(sim.base_url("slack"), policy=FAST) as slack:
        with pytest.raises(ProviderFailure) as caught:
            await slack.post("x")
    failure = caught.value
    assert (failure.category, failure.retryable) == (category, False)
    assert "POST incoming webhook" in failure.message and "/services/" not in failure.message
