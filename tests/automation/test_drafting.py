"""``write_draft`` without a database: every AI call of one draft fits in its share of the
worker's item budget, whatever hangs (real HTTP to the simulator)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from replydesk.automation.drafting import DraftRequest, write_draft
from replydesk.automation.schemas import AutomationSettingsIn
from replydesk.automation.vocabulary import DraftSource, VerifierStatus
from replydesk.core.settings import Settings
from replydesk.integrations.ai.client import AiTarget
from replydesk.leads.context import LeadContext, ThreadMessage
from replydesk.leads.vocabulary import Channel, LeadCategory
from replydesk.sim.server import SimServer
from tests.support.sim import add_fault

KEY = "sk-proj-DraftingUnit000000000000XYZ"
AT = datetime(2026, 1, 23, 18, 20, tzinfo=UTC)


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with SimServer(keys={"openai": KEY}) as server:
        yield server


def _settings(**extra: Any) -> Settings:
    values: dict[str, Any] = {
        "outbound_allow_private": True,
        "worker_item_budget_s": 2.0,  # 1.5 s for every AI call of a draft
        "ai_timeout_s": 5.0,  # longer than the budget: the budget must win
        "ai_verifier_timeout_s": 5.0,
        "ai_max_attempts": 3,
        "ai_backoff_base_s": 0.01,
        "ai_backoff_cap_s": 0.02,
        **extra,
    }
    return Settings(**values)


def _request(**automation: Any) -> DraftRequest:
    thread = [
        ThreadMessage(1, "email", "inbound", "lead", "Re: Hi", AT, "Sounds good, tell me more")
    ]
    context = LeadContext(
        7,
        "Dana",
        "Reyes",
        "Northwind",
        "Head of Ops",
        "active",
        "interested",
        0.8,
        False,
        AT,
        thread,
    )
    return DraftRequest(
        7,
        1,
        Channel.EMAIL,
        "Re: Hi",
        LeadCategory.INTERESTED,
        0.8,
        context,
        AutomationSettingsIn.model_validate(automation),
    )


def _target(sim: SimServer) -> AiTarget:
    return AiTarget(sim.base_url("openai"), KEY, "gpt-4.1-mini", "instance")


async def test_a_hanging_draft_call_is_cut_by_the_item_budget(sim: SimServer) -> None:
    await add_fault(sim, provider="openai", endpoint="responses.draft", hang=True)
    started = time.monotonic()
    drafted = await write_draft(_request(), _target(sim), _settings())
    elapsed = time.monotonic() - started
    assert elapsed < 1.5 + 0.3, elapsed
    assert drafted.source is DraftSource.TEMPLATE and drafted.body.startswith("Hi Dana,")
    assert drafted.notes[0].startswith("template fallback: the AI draft failed (timeout")


async def test_a_hanging_verifier_keeps_the_draft_within_the_budget(sim: SimServer) -> None:
    await add_fault(sim, provider="openai", endpoint="responses.verdict", hang=True)
    started = time.monotonic()
    drafted = await write_draft(_request(), _target(sim), _settings())
    elapsed = time.monotonic() - started
    assert elapsed < 1.5 + 0.3, elapsed
    assert drafted.source is DraftSource.AI and drafted.verifier_status is VerifierStatus.TIMEOUT
    assert drafted.body.startswith("Hi Dana,")


async def test_no_target_is_the_template_without_any_call(sim: SimServer) -> None:
    drafted = await write_draft(
        _request(signature="— Sam"), None, _settings(), why_no_ai="no AI provider is configured"
    )
    assert drafted.source is DraftSource.TEMPLATE and drafted.body.endswith("— Sam")
    assert drafted.verifier_status is VerifierStatus.SKIPPED
    assert sim.sim.requests.list("openai") == []
