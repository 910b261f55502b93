"""Every provider call is counted once (after its retries) by provider, endpoint, outcome."""

from __future__ import annotations

import pytest

from replydesk.core.errors import ProviderFailure
from replydesk.core.metrics import metrics
from replydesk.integrations.emailbison.client import EmailBisonClient
from replydesk.sim.server import SimServer
from tests.support.sim import FAST, SIM_KEYS

ENDPOINT = "GET /api/replies/{id}/conversation-thread"


def _calls(outcome: str) -> float:
    return metrics().provider_calls.labels("emailbison", ENDPOINT, outcome)._value.get()


def _durations() -> float:
    histogram = metrics().provider_call_duration.labels("emailbison", ENDPOINT)
    return sum(b.get() for b in histogram._buckets)


async def test_provider_calls_are_counted_by_outcome(sim: SimServer) -> None:
    ok, refused, observed = _calls("ok"), _calls("provider_auth"), _durations()
    async with EmailBisonClient(
        sim.base_url("emailbison"), SIM_KEYS["emailbison"], policy=FAST
    ) as client:
        await client.reply_thread(93001)
    async with EmailBisonClient(
        sim.base_url("emailbison"), "9|wrongKeyForThisHost", policy=FAST
    ) as client:
        with pytest.raises(ProviderFailure):
            await client.reply_thread(93001)
    assert (_calls("ok") - ok, _calls("provider_auth") - refused) == (1, 1)
    assert _durations() - observed == 2
