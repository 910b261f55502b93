"""Health checks against a loopback fake provider (real HTTP), through the worker."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from replydesk.app import build_registry, periodic_tasks
from replydesk.core.db import Database
from replydesk.core.settings import Settings
from replydesk.core.urlguard import guarded_client
from replydesk.integrations.credentials import hosts, service
from replydesk.integrations.credentials.checks import CHECKS, HealthResult, ProviderCredentials
from replydesk.integrations.credentials.vocabulary import HealthStatus, Integration
from tests.support.fake_provider import FakeProvider, running_fake
from tests.support.integrations import SECRET_KEY, integration_settings
from tests.support.logs import LogCapture
from tests.support.members import Member, new_workspace_owner
from tests.support.queue import fetch, fetchval, running_worker, wait_until

EB_KEY = "9|eb-secret-key-for-health-7788"
UNIPILE_KEY = "unipile-secret-key-4455"
GHL_KEY = "pit-ghl-secret-key-6611"


@pytest.fixture
def settings(database_url: str, tmp_path: Any) -> Settings:
    return integration_settings(
        database_url,
        tmp_path,
        health_check_timeout_s=2.0,
    )


def _creds(provider: Integration, fake: FakeProvider) -> ProviderCredentials:
    settings = {
        Integration.EMAILBISON: {"base_url": fake.base_url},
        Integration.GHL: {"base_url": fake.base_url, "location_id": "loc_1"},
        Integration.UNIPILE: {"base_url": fake.base_url, "account_id": "acc_1"},
        Integration.SLACK: {},
    }[provider]
    secret = {"webhook_url": "https://hooks.slack.com/services/T/B/X"}
    if provider is not Integration.SLACK:
        secret = {
            "api_key": {"emailbison": EB_KEY, "ghl": GHL_KEY, "unipile": UNIPILE_KEY}[provider]
        }
    return ProviderCredentials(provider, settings, secret)


PATHS = {
    Integration.EMAILBISON: "/api/users",
    Integration.GHL: "/locations/loc_1",
    Integration.UNIPILE: "/api/v1/accounts/acc_1",
}


@pytest.mark.parametrize(
    ("provider", "status", "body", "expected", "category"),
    [
        (Integration.EMAILBISON, 200, {"data": {}}, HealthStatus.OK, None),
        (
            Integration.EMAILBISON,
            401,
            {"message": "Unauthenticated."},
            HealthStatus.AUTH_FAILED,
            "provider_auth",
        ),
        (Integration.EMAILBISON, 429, {}, HealthStatus.RATE_LIMITED, "provider_rate_limited"),
        (Integration.EMAILBISON, 503, {}, HealthStatus.DEGRADED, "provider_error"),
        (Integration.GHL, 200, {"location": {}}, HealthStatus.OK, None),
        (
            Integration.GHL,
            401,
            {"statusCode": 401, "message": "Invalid JWT", "traceId": "tr-9"},
            HealthStatus.AUTH_FAILED,
            "provider_auth",
        ),
        (Integration.GHL, 500, {}, HealthStatus.DEGRADED, "provider_error"),
        (
            Integration.UNIPILE,
            200,
            {"object": "Account", "sources": [{"status": "OK"}]},
            HealthStatus.OK,
            None,
        ),
        (
            Integration.UNIPILE,
            200,
            {"sources": [{"status": "CREDENTIALS"}]},
            HealthStatus.DISCONNECTED,
            "provider_disconnected",
        ),
        (
            Integration.UNIPILE,
            401,
            {"status": 401, "type": "errors/disconnected_account", "title": "Disconnected account"},
            HealthStatus.DISCONNECTED,
            "provider_disconnected",
        ),
        (
            Integration.UNIPILE,
            401,
            {"status": 401, "type": "errors/missing_credentials", "title": "x"},
            HealthStatus.DISCONNECTED,
            "provider_disconnected",
        ),
        (
            Integration.UNIPILE,
            403,
            {"status": 403, "type": "errors/account_restricted", "title": "x"},
            HealthStatus.DISCONNECTED,
            "provider_disconnected",
        ),
        (
            Integration.UNIPILE,
            403,
            {"status": 403, "type": "errors/feature_not_subscribed", "title": "x"},
            HealthStatus.DEGRADED,
            "provider_error",
        ),
        (
            Integration.UNIPILE,
            429,
            {"type": "errors/too_many_requests"},
            HealthStatus.RATE_LIMITED,
            "provider_rate_limited",
        ),
        (
            Integration.UNIPILE,
            504,
            {"type": "errors/request_timeout"},
            HealthStatus.DEGRADED,
            "provider_error",
        ),
    ],
)
async def test_check_maps_provider_answers(
    provider: Integration, status: int, body: Any, expected: HealthStatus, category: str | None
) -> None:
    async with running_fake() as fake:
        fake.answer(
            PATHS[provider], status, body, **({"Retry-After": "30"} if status == 429 else {})
        )
        async with guarded_client(Settings(outbound_allow_private=True), timeout=2.0) as client:
            result = await CHECKS[provider](_creds(provider, fake), client)
    assert (result.status, result.category) == (expected, category)
    received = fake.requests[-1]
    assert received.path == PATHS[provider]
    if provider is Integration.UNIPILE:
        assert received.headers["x-api-key"] == UNIPILE_KEY
    else:
        assert received.headers["authorization"].startswith("Bearer ")
    if provider is Integration.GHL:
        assert received.headers["version"] == "2021-07-28"
    if result.message is not None:
        assert "127.0.0.1" in result.message and PATHS[provider] in result.message
        for key in (EB_KEY, GHL_KEY, UNIPILE_KEY):
            assert key not in result.message
    if (provider, status) == (Integration.EMAILBISON, 401):
        assert "api-user key" in (result.message or "")
    if (provider, status) == (Integration.GHL, 401):
        assert "traceId tr-9" in (result.message or "")
    if status == 429:
        assert "retry after 30 s" in (result.message or "")


async def test_unreachable_and_refused_destinations_are_degraded() -> None:
    async with running_fake() as fake:
        creds = _creds(Integration.EMAILBISON, fake)
    # The fake is stopped: connection refused.
    async with guarded_client(Settings(outbound_allow_private=True), timeout=2.0) as client:
        down = await CHECKS[Integration.EMAILBISON](creds, client)
    assert (down.status, down.category) == (HealthStatus.DEGRADED, "provider_error")
    async with guarded_client(Settings(), timeout=2.0) as client:
        refused = await CHECKS[Integration.EMAILBISON](creds, client)
    assert (refused.status, refused.category) == (HealthStatus.DEGRADED, "destination_refused")
    slack = await CHECKS[Integration.SLACK](_creds(Integration.SLACK, fake), client)
    assert slack.status is HealthStatus.OK


async def _health(url: str) -> dict[str, Any]:
    rows = await fetch(url, "SELECT * FROM integration_health")
    return dict(rows[0])


async def test_put_then_worker_checks_and_records_without_leaking_the_key(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    database_url: str,
    log_capture: LogCapture,
) -> None:
    owner: Member = await new_workspace_owner(db, "Acme", "owner@acme.example")
    async with running_fake() as fake:
        async with db.session() as session:
            await hosts.add_host(session, fake.base_url.removeprefix("http://"))
        put = await client.put(
            owner.url("integrations/emailbison"),
            json={"base_url": fake.base_url, "api_key": EB_KEY},
            headers=owner.headers,
        )
        assert put.status_code == 200, put.text
        async with running_worker(db, build_registry(settings, db), settings):

            async def checked() -> bool:
                return (await _health(database_url))["last_checked_at"] is not None

            await wait_until(checked, timeout_s=20)
            first = await _health(database_url)
            assert first["status"] == "ok" and first["last_error_category"] is None

            fake.answer("/api/users", 401, {"message": "Unauthenticated."})
            resp = await client.post(
                owner.url("integrations/emailbison/check"), headers=owner.headers
            )
            assert resp.status_code == 202 and resp.json()["status"] == "queued"

            async def failed() -> bool:
                return (await _health(database_url))["status"] == "auth_failed"

            await wait_until(failed, timeout_s=20)
        listing = (await client.get(owner.url("integrations"), headers=owner.headers)).json()
    item = next(i for i in listing["items"] if i["provider"] == "emailbison")
    assert item["status"] == "auth_failed"
    assert item["last_error"]["category"] == "provider_auth"
    assert "api-user key" in item["last_error"]["message"]
    # The status changed on this check, so "since" is that check's time.
    assert item["since"] == item["last_checked_at"]
    assert [r.headers["authorization"] for r in fake.requests] == [f"Bearer {EB_KEY}"] * 2
    everything = log_capture.text + put.text + str(listing)
    everything += str([dict(r) for r in await fetch(database_url, "SELECT * FROM jobs")])
    everything += str(
        [dict(r) for r in await fetch(database_url, "SELECT * FROM integration_credentials")]
    )
    assert EB_KEY not in everything and "eb-secret-key" not in everything
    assert "integration_health_checked" in log_capture.text
    assert await fetchval(database_url, "SELECT count(*) FROM jobs WHERE status = 'succeeded'") == 2


async def test_a_result_for_older_credentials_is_dropped(db: Database, database_url: str) -> None:
    owner = await new_workspace_owner(db, "Acme", "owner@acme.example")
    from replydesk.core.crypto import KeyRing
    from replydesk.core.urlguard import OutboundPolicy
    from replydesk.integrations.credentials.schemas import GhlIn

    ring = KeyRing.from_settings(Settings(database_url=database_url, secret_key=SECRET_KEY))
    body = GhlIn(location_id="loc_1", api_key=GHL_KEY)
    async with db.session() as session:
        await service.put_integration(
            session, ring, OutboundPolicy(), owner.workspace_id, Integration.GHL, body
        )
        subject = await service.load_credentials(session, ring, owner.workspace_id, Integration.GHL)
        assert subject is not None and subject.credentials.secret == {"api_key": GHL_KEY}
        assert GHL_KEY not in repr(subject.credentials)
        await service.put_integration(
            session, ring, OutboundPolicy(), owner.workspace_id, Integration.GHL, body
        )
        stale = HealthResult(HealthStatus.AUTH_FAILED, "provider_auth", "old key")
        assert not await service.record_check(
            session, owner.workspace_id, Integration.GHL, subject.version, stale
        )
        assert await service.record_check(
            session, owner.workspace_id, Integration.GHL, subject.version + 1, HealthResult.ok()
        )
    health = await _health(database_url)
    assert health["status"] == "ok" and health["check_seq"] == 1


async def test_periodic_task_queues_one_check_per_integration_while_pending(
    db: Database, settings: Settings, database_url: str, client: httpx.AsyncClient
) -> None:
    owners = [await new_workspace_owner(db, f"W{n}", f"o{n}@w.example") for n in range(3)]
    for owner in owners:
        resp = await client.put(
            owner.url("integrations/slack"),
            json={"webhook_url": "https://hooks.slack.com/services/T/B/secretsecret"},
            headers=owner.headers,
        )
        assert resp.status_code == 200
    await fetch(database_url, "UPDATE jobs SET status = 'succeeded'")
    await fetch(database_url, "UPDATE integration_health SET check_seq = check_seq + 1")
    task = next(t for t in periodic_tasks(settings) if t.name == "integrations.health_checks")
    assert task.interval_s == settings.health_check_interval_s == 300
    await task.run(db)
    assert await fetchval(database_url, "SELECT count(*) FROM jobs WHERE status = 'pending'") == 3
    await task.run(db)  # all three still pending: nothing new
    assert await fetchval(database_url, "SELECT count(*) FROM jobs WHERE status = 'pending'") == 3
    async with db.session() as session:
        assert await service.queue_due_checks(session, limit=1) == 0
