"""The AI provider: PUT integrations/openai (encryption, URL guard, health through the
simulator), which target a workspace's calls use, and the client against every fault of the
simulator's Responses endpoint (real HTTP on loopback)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from replydesk.app import build_registry
from replydesk.core.crypto import KeyRing
from replydesk.core.db import Database
from replydesk.core.settings import Settings
from replydesk.integrations.ai import config
from replydesk.integrations.ai.client import AiFailure, AiTarget, Call, FailureKind, generate
from replydesk.sim.server import SimServer
from tests.support.integrations import integration_settings
from tests.support.members import Member, new_workspace_owner
from tests.support.queue import fetch, running_worker, wait_until
from tests.support.sim import add_fault, clear_faults

AI_KEY = "sk-proj-SimKeyAbCdEf0123456789xyzAI"
SCHEMA = {
    "type": "object",
    "properties": {"subject": {"type": ["string", "null"]}, "body": {"type": "string"}},
    "required": ["subject", "body"],
    "additionalProperties": False,
}


@pytest.fixture
def settings(database_url: str, tmp_path: Any) -> Settings:
    return integration_settings(
        database_url,
        tmp_path,
        ai_timeout_s=0.5,
        ai_max_attempts=3,
        ai_backoff_base_s=0.01,
        ai_backoff_cap_s=0.02,
        ai_retry_after_max_s=2.0,
    )


@pytest.fixture
async def sim() -> Any:
    async with SimServer(keys={"openai": AI_KEY}) as server:
        yield server


@pytest.fixture
async def owner(db: Database) -> Member:
    return await new_workspace_owner(db, "Acme", "owner@acme.example")


def _target(sim: SimServer, key: str = AI_KEY) -> AiTarget:
    return AiTarget(sim.base_url("openai"), key, "gpt-4.1-mini", "instance")


def _call(timeout_s: float = 0.5) -> Call:
    context = {"lead": {"first_name": "Dana"}, "workspace": {"signature": "— Sam"}}
    return Call("draft", "Write the reply.", json.dumps(context), SCHEMA, 200, timeout_s)


async def test_put_openai_encrypts_guards_and_checks_health(
    client: httpx.AsyncClient,
    owner: Member,
    db: Database,
    settings: Settings,
    sim: SimServer,
    database_url: str,
) -> None:
    body = {"base_url": sim.base_url("openai") + "/", "api_key": AI_KEY}
    resp = await client.put(owner.url("integrations/openai"), json=body, headers=owner.headers)
    assert resp.status_code == 200, resp.text
    shown = resp.json()
    # The path is kept (the SDK appends /responses); the model is the instance default.
    assert shown["settings"] == {
        "base_url": sim.base_url("openai"),
        "model": settings.ai_model,
        "api_key": "…" + AI_KEY[-4:],
    }
    assert shown["status"] == "unknown"
    stored = await fetch(database_url, "SELECT * FROM integration_credentials")
    assert AI_KEY not in str(dict(stored[0]))

    async with running_worker(db, build_registry(settings, db), settings):
        await wait_until(lambda: _status(client, owner, "ok"), timeout_s=10)
    models = sim.sim.requests.list("openai", "models")
    assert models and models[-1]["headers"]["authorization"].endswith(AI_KEY[-4:])

    # A wrong key: the check says auth_failed.
    wrong = {"base_url": sim.base_url("openai"), "api_key": "sk-wrong-0000000000000", "model": "m"}
    resp = await client.put(owner.url("integrations/openai"), json=wrong, headers=owner.headers)
    assert resp.json()["settings"]["model"] == "m"
    async with running_worker(db, build_registry(settings, db), settings):
        await wait_until(lambda: _status(client, owner, "auth_failed"), timeout_s=10)


async def _status(client: httpx.AsyncClient, owner: Member, status: str) -> bool:
    listing = (await client.get(owner.url("integrations"), headers=owner.headers)).json()
    item = next(i for i in listing["items"] if i["provider"] == "openai")
    return bool(item["status"] == status)


async def test_put_openai_refuses_private_urls_without_the_opt_in(
    database_url: str, tmp_path: Any
) -> None:
    from replydesk.app import create_app
    from tests.integrations.conftest import SECRET_KEY

    settings = Settings(database_url=database_url, data_dir=tmp_path / "d", secret_key=SECRET_KEY)
    db = Database.from_settings(settings)
    try:
        owner = await new_workspace_owner(db, "Acme", "owner@acme.example")
        app = create_app(settings, database=db)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                for url in (
                    "http://127.0.0.1:9/v1",
                    "https://10.0.0.5/v1",
                    "https://x.example/v1?a=b",
                ):
                    body = {"base_url": url, "api_key": AI_KEY}
                    resp = await c.put(
                        owner.url("integrations/openai"), json=body, headers=owner.headers
                    )
                    assert resp.status_code == 422, (url, resp.text)
                    assert AI_KEY not in resp.text
                # Omitted base_url: the instance default (public https) is accepted.
                resp = await c.put(
                    owner.url("integrations/openai"),
                    json={"api_key": AI_KEY},
                    headers=owner.headers,
                )
                assert resp.status_code == 200, resp.text
                assert resp.json()["settings"]["base_url"] == "https://api.openai.com/v1"
    finally:
        await db.dispose()


async def test_resolve_prefers_the_workspace_then_the_instance_then_none(
    client: httpx.AsyncClient, owner: Member, db: Database, settings: Settings, sim: SimServer
) -> None:
    ring = KeyRing.from_settings(settings)
    async with db.session() as session:
        resolved = await config.resolve(session, settings, ring, owner.workspace_id)
    assert resolved.target is None and resolved.why_not == "no AI provider is configured"

    instance = settings.model_copy(update={"ai_api_key": SecretStr("sk-instance-000000000000")})
    async with db.session() as session:
        resolved = await config.resolve(session, instance, ring, owner.workspace_id)
    assert resolved.target is not None and resolved.target.source == "instance"
    assert resolved.target.base_url == "https://api.openai.com/v1"
    assert "sk-instance" not in repr(resolved.target)

    body = {"base_url": sim.base_url("openai"), "api_key": AI_KEY, "model": "gpt-4.1"}
    resp = await client.put(owner.url("integrations/openai"), json=body, headers=owner.headers)
    assert resp.status_code == 200
    async with db.session() as session:
        resolved = await config.resolve(session, instance, ring, owner.workspace_id)
    assert resolved.target is not None
    assert (resolved.target.source, resolved.target.model) == ("workspace", "gpt-4.1")
    assert resolved.target.api_key == AI_KEY and resolved.target.version == 1


async def test_generate_reads_structured_json(settings: Settings, sim: SimServer) -> None:
    answer = await generate(_target(sim), settings, _call())
    assert answer.data["body"].startswith("Hi Dana,") and answer.attempts == 1
    assert answer.output_tokens > 0 and answer.input_tokens > 0
    sent = sim.sim.requests.list("openai")[-1]
    assert sent["path"] == "/responses" and sent["endpoint"] == "responses.draft"
    assert sent["body"]["text"]["format"]["type"] == "json_schema"
    assert sent["body"]["max_output_tokens"] == 200 and sent["body"]["store"] is False


async def test_truncation_is_retried_once_with_a_larger_budget(
    settings: Settings, sim: SimServer
) -> None:
    await add_fault(sim, provider="openai", endpoint="responses.draft", type="incomplete", times=1)
    answer = await generate(_target(sim), settings, _call())
    assert answer.attempts == 2 and answer.data["body"]
    budgets = [c["max_output_tokens"] for c in sim.sim.openai.calls]
    assert budgets == [200, 400]

    await add_fault(sim, provider="openai", type="incomplete")
    with pytest.raises(AiFailure) as failed:
        await generate(_target(sim), settings, _call())
    assert failed.value.kind is FailureKind.TRUNCATED and failed.value.attempts == 2


async def test_malformed_json_is_not_retried(settings: Settings, sim: SimServer) -> None:
    await add_fault(sim, provider="openai", type="malformed_json")
    with pytest.raises(AiFailure) as failed:
        await generate(_target(sim), settings, _call())
    assert failed.value.kind is FailureKind.MALFORMED and failed.value.attempts == 1


async def test_401_is_auth_and_never_retried(settings: Settings, sim: SimServer) -> None:
    with pytest.raises(AiFailure) as failed:
        await generate(_target(sim, "sk-wrong-key-00000000000"), settings, _call())
    assert failed.value.kind is FailureKind.AUTH and failed.value.attempts == 1
    assert "sk-wrong" not in failed.value.message
    assert len(sim.sim.requests.list("openai")) == 1


async def test_429_waits_retry_after_then_succeeds(settings: Settings, sim: SimServer) -> None:
    await add_fault(sim, provider="openai", retry_after=1, times=1)
    started = time.monotonic()
    answer = await generate(_target(sim), settings, _call())
    assert answer.attempts == 2 and time.monotonic() - started >= 0.9
    # A Retry-After beyond ai_retry_after_max_s is not waited for: rate_limited at once.
    await add_fault(sim, provider="openai", retry_after=30)
    started = time.monotonic()
    with pytest.raises(AiFailure) as failed:
        await generate(_target(sim), settings, _call())
    assert failed.value.kind is FailureKind.RATE_LIMITED and time.monotonic() - started < 1


async def test_a_hang_times_out_within_the_attempts(settings: Settings, sim: SimServer) -> None:
    await add_fault(sim, provider="openai", hang=True)
    started = time.monotonic()
    with pytest.raises(AiFailure) as failed:
        await generate(_target(sim), settings, _call(timeout_s=0.3))
    elapsed = time.monotonic() - started
    assert failed.value.kind is FailureKind.TIMEOUT and failed.value.attempts == 3
    assert 0.8 < elapsed < 3
    await clear_faults(sim)
    # 5xx: retried, then an error.
    await add_fault(sim, provider="openai", status=503)
    with pytest.raises(AiFailure) as failed:
        await generate(_target(sim), settings, _call())
    assert failed.value.kind is FailureKind.ERROR and failed.value.attempts == 3


async def test_fault_switches_pick_one_kind_of_call(settings: Settings, sim: SimServer) -> None:
    await add_fault(sim, provider="openai", endpoint="responses.verdict", status=500)
    answer = await generate(_target(sim), settings, _call())  # a draft call: untouched
    assert answer.attempts == 1
    verdict = Call(
        "verdict",
        "Check.",
        "{}",
        {"type": "object", "properties": {}, "additionalProperties": False},
        50,
        0.5,
    )
    with pytest.raises(AiFailure):
        await generate(_target(sim), settings, verdict)
    await clear_faults(sim)
    await add_fault(
        sim, provider="openai", output={"verdict": "fail", "notes": "promises a discount"}
    )
    got = await generate(_target(sim), settings, verdict)
    assert got.data == {"verdict": "fail", "notes": "promises a discount"}
