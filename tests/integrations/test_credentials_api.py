"""PUT / GET / DELETE integrations and POST …/check: validation, roles, CSRF, encryption."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from replydesk.app import create_app
from replydesk.core.db import Database
from replydesk.core.settings import Settings
from tests.support.http import https_client, login
from tests.support.logs import LogCapture
from tests.support.members import Member, add_member, new_workspace_owner
from tests.support.queue import fetch, fetchval

EB_KEY = "9|q8kSmhjJRqJVT2kc1M0ezX640PxkZZ41"
EB = {"base_url": "https://send.meetinboxxia.com", "api_key": EB_KEY}


@pytest.fixture
async def owner(db: Database) -> Member:
    return await new_workspace_owner(db, "Acme", "owner@acme.example")


async def _put(client: httpx.AsyncClient, who: Member, provider: str, body: Any) -> httpx.Response:
    return await client.put(who.url(f"integrations/{provider}"), json=body, headers=who.headers)


def _item(listing: dict[str, Any], provider: str) -> dict[str, Any]:
    return next(i for i in listing["items"] if i["provider"] == provider)


async def test_put_stores_encrypted_masks_the_key_and_queues_a_check(
    client: httpx.AsyncClient, owner: Member, database_url: str
) -> None:
    resp = await _put(client, owner, "emailbison", EB)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["provider"] == "emailbison" and body["configured"] is True
    assert body["status"] == "unknown" and body["last_error"] is None
    assert body["settings"] == {"base_url": "https://send.meetinboxxia.com", "api_key": "…ZZ41"}

    listing = (await client.get(owner.url("integrations"), headers=owner.headers)).json()
    assert [i["provider"] for i in listing["items"]] == [
        "emailbison",
        "ghl",
        "unipile",
        "slack",
        "openai",
    ]
    assert _item(listing, "ghl") == {
        "provider": "ghl",
        "configured": False,
        "status": "not_configured",
        "since": None,
        "last_checked_at": None,
        "last_error": None,
        "settings": {},
    }
    assert listing["emailbison_allowed_hosts"] == [
        "send.foundersclubsend.com",
        "send.meetinboxxia.com",
    ]
    stored = await fetch(database_url, "SELECT * FROM integration_credentials")
    assert len(stored) == 1
    assert EB_KEY not in str(dict(stored[0])) and "q8kSmhjJ" not in stored[0]["secret_ciphertext"]
    jobs = await fetch(database_url, "SELECT type, payload, dedupe_key, status FROM jobs")
    assert [(j["type"], j["status"]) for j in jobs] == [("integration.health_check", "pending")]
    assert EB_KEY not in str([dict(j) for j in jobs])

    # A second PUT: new version, health back to unknown, another check.
    again = await _put(client, owner, "emailbison", {**EB, "api_key": "another-key-0000-9999"})
    assert again.json()["settings"]["api_key"] == "…9999"
    assert await fetchval(database_url, "SELECT count(*) FROM jobs") == 2
    assert await fetchval(database_url, "SELECT version FROM integration_credentials") == 2


async def test_every_provider_body(client: httpx.AsyncClient, owner: Member) -> None:
    ghl = await _put(
        client, owner, "ghl", {"location_id": "loc_7Hq2kP", "api_key": "pit-1234567890abcd"}
    )
    assert ghl.status_code == 200, ghl.text
    assert ghl.json()["settings"] == {
        "location_id": "loc_7Hq2kP",
        "base_url": "https://services.leadconnectorhq.com",
        "api_key": "…abcd",
    }
    uni = await _put(
        client,
        owner,
        "unipile",
        {
            "base_url": "https://api8.unipile.com:13851/",
            "api_key": "unipile-key-xyz1",
            "account_id": "acc_LnK4e",
        },
    )
    assert uni.status_code == 200, uni.text
    assert uni.json()["settings"] == {
        "base_url": "https://api8.unipile.com:13851",
        "account_id": "acc_LnK4e",
        "api_key": "…xyz1",
    }
    hook = "https://hooks.slack.com/services/T000/B000/XXXXsecretAB12"
    slack = await _put(client, owner, "slack", {"webhook_url": hook})
    assert slack.status_code == 200, slack.text
    assert slack.json()["settings"] == {"webhook_url": "…AB12"}
    listing = (await client.get(owner.url("integrations"), headers=owner.headers)).json()
    states = {i["provider"]: (i["configured"], i["status"]) for i in listing["items"]}
    assert states == {
        "emailbison": (False, "not_configured"),
        "ghl": (True, "unknown"),
        "unipile": (True, "unknown"),
        "slack": (True, "unknown"),
        "openai": (False, "not_configured"),
    }
    assert hook not in str(listing)


@pytest.mark.parametrize(
    ("provider", "body", "status", "words"),
    [
        (
            "emailbison",
            {**EB, "base_url": "https://evil.example.com"},
            422,
            "allowed hosts: send.foundersclubsend.com, send.meetinboxxia.com",
        ),
        (
            "emailbison",
            {**EB, "base_url": "https://send.meetinboxxia.com:8443"},
            422,
            "send.meetinboxxia.com:8443 is not on",
        ),
        ("emailbison", {**EB, "base_url": "http://send.meetinboxxia.com"}, 422, "must use https"),
        ("emailbison", {**EB, "base_url": "https://send.meetinboxxia.com/api"}, 422, "origin only"),
        ("emailbison", {**EB, "api_key": "has space"}, 422, "api_key"),
        ("emailbison", {"base_url": "https://send.meetinboxxia.com"}, 422, "api_key"),
        ("emailbison", {**EB, "extra": 1}, 422, "extra"),
        (
            "ghl",
            {"location_id": "l", "api_key": "k" * 20, "base_url": "https://127.0.0.1"},
            422,
            "loopback",
        ),
        (
            "unipile",
            {"base_url": "https://169.254.169.254", "api_key": "k" * 20, "account_id": "a"},
            422,
            "cloud metadata",
        ),
        (
            "unipile",
            {"base_url": "https://10.0.0.2:13851", "api_key": "k" * 20, "account_id": "a"},
            422,
            "private",
        ),
        ("slack", {"webhook_url": "https://localhost/services/x"}, 422, "local host name"),
        (
            "slack",
            {"webhook_url": "https://hooks.slack.com/other"},
            422,
            "hooks.slack.com/services",
        ),
    ],
)
async def test_bad_bodies_are_refused_with_a_named_problem(
    client: httpx.AsyncClient,
    owner: Member,
    database_url: str,
    provider: str,
    body: Any,
    status: int,
    words: str,
) -> None:
    resp = await _put(client, owner, provider, body)
    assert resp.status_code == status, resp.text
    assert words in resp.json()["error"]["message"]
    assert await fetchval(database_url, "SELECT count(*) FROM integration_credentials") == 0
    assert await fetchval(database_url, "SELECT count(*) FROM jobs") == 0


async def test_external_database_without_a_secret_key_answers_503(
    db: Database, database_url: str, tmp_path: Any
) -> None:
    settings = Settings(database_url=database_url, data_dir=tmp_path / "nokey")
    app = create_app(settings, database=db)
    async with app.router.lifespan_context(app):
        owner = await new_workspace_owner(db, "Acme", "owner@acme.example")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            resp = await _put(client, owner, "emailbison", EB)
            listing = await client.get(owner.url("integrations"), headers=owner.headers)
    assert resp.status_code == 503
    assert resp.json()["error"]["code"] == "secret_key_missing"
    assert "REPLYDESK_SECRET_KEY" in resp.json()["error"]["message"]
    assert listing.status_code == 200
    assert await fetchval(database_url, "SELECT count(*) FROM integration_credentials") == 0
    # No key was generated for an external database (the data folder may hold other state,
    # e.g. the outage spool's folder).
    assert not (tmp_path / "nokey" / "secret_key").exists()


async def test_writes_need_owner_or_admin_and_csrf_for_cookies(
    app: FastAPI, db: Database, client: httpx.AsyncClient, owner: Member
) -> None:
    member = await add_member(db, owner.workspace_id, "kim@acme.example", "member")
    admin = await add_member(db, owner.workspace_id, "ada@acme.example", "admin")
    assert (await _put(client, member, "emailbison", EB)).status_code == 403
    resp = await client.post(member.url("integrations/emailbison/check"), headers=member.headers)
    assert resp.status_code == 403
    assert (
        await client.delete(member.url("integrations/emailbison"), headers=member.headers)
    ).status_code == 403
    assert (await client.get(member.url("integrations"), headers=member.headers)).status_code == 200
    assert (await _put(client, admin, "emailbison", EB)).status_code == 200

    async with https_client(app) as browser:
        csrf = await login(browser, owner.email)
        url = owner.url("integrations/emailbison")
        refused = await browser.put(url, json=EB)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"
        accepted = await browser.put(url, json=EB, headers={"X-CSRF-Token": csrf})
        assert accepted.status_code == 200, accepted.text


async def test_other_workspaces_see_nothing(
    db: Database, client: httpx.AsyncClient, owner: Member
) -> None:
    other = await new_workspace_owner(db, "Other", "owner@other.example")
    assert (await _put(client, owner, "emailbison", EB)).status_code == 200
    listing = (await client.get(other.url("integrations"), headers=other.headers)).json()
    assert not any(i["configured"] for i in listing["items"])
    # Another workspace's token on this workspace's URL: 404, nothing leaked.
    cross = await client.get(owner.url("integrations"), headers=other.headers)
    assert cross.status_code == 404
    gone = await client.delete(other.url("integrations/emailbison"), headers=other.headers)
    assert gone.status_code == 404


async def test_delete_removes_credentials_and_health(
    client: httpx.AsyncClient, owner: Member, database_url: str
) -> None:
    assert (await _put(client, owner, "emailbison", EB)).status_code == 200
    resp = await client.delete(owner.url("integrations/emailbison"), headers=owner.headers)
    assert resp.status_code == 204
    listing = (await client.get(owner.url("integrations"), headers=owner.headers)).json()
    assert _item(listing, "emailbison")["status"] == "not_configured"
    assert await fetchval(database_url, "SELECT count(*) FROM integration_health") == 0
    again = await client.delete(owner.url("integrations/emailbison"), headers=owner.headers)
    assert again.status_code == 404 and again.json()["error"]["code"] == "not_found"
    unknown = await client.delete(owner.url("integrations/mailchimp"), headers=owner.headers)
    assert unknown.status_code == 422


async def test_check_is_deduplicated_while_pending(
    client: httpx.AsyncClient, owner: Member, database_url: str
) -> None:
    url = owner.url("integrations/emailbison/check")
    missing = await client.post(url, headers=owner.headers)
    assert missing.status_code == 404
    assert (await _put(client, owner, "emailbison", EB)).status_code == 200
    first = await client.post(url, headers=owner.headers)
    assert first.status_code == 202
    # The PUT's check is still pending: the same job.
    assert first.json() == {"provider": "emailbison", "status": "already_queued"}
    assert await fetchval(database_url, "SELECT count(*) FROM jobs") == 1
    # Once a check has finished (check_seq moves on), a new one can be queued.
    await fetch(database_url, "UPDATE jobs SET status = 'succeeded'")
    await fetch(database_url, "UPDATE integration_health SET check_seq = check_seq + 1")
    second = await client.post(url, headers=owner.headers)
    assert second.json()["status"] == "queued"
    assert (await client.post(url, headers=owner.headers)).json()["status"] == "already_queued"
    assert await fetchval(database_url, "SELECT count(*) FROM jobs") == 2


async def test_seeded_secrets_never_reach_answers_logs_or_clear_columns(
    client: httpx.AsyncClient, owner: Member, database_url: str, log_capture: LogCapture
) -> None:
    secrets = {
        "emailbison": ("api_key", "9|SEEDEDemailbisonKEY0001"),
        "ghl": ("api_key", "pit-SEEDEDghlKEY0002"),
        "unipile": ("api_key", "SEEDEDunipileKEY0003"),
        "slack": ("webhook_url", "https://hooks.slack.com/services/T1/B2/SEEDEDslack0004"),
    }
    bodies = {
        "emailbison": {"base_url": "https://send.meetinboxxia.com"},
        "ghl": {"location_id": "loc_1"},
        "unipile": {"base_url": "https://api8.unipile.com:13851", "account_id": "acc_1"},
        "slack": {},
    }
    answers: list[str] = []
    for provider, (field, secret) in secrets.items():
        ok = await _put(client, owner, provider, {**bodies[provider], field: secret})
        assert ok.status_code == 200, ok.text
        answers.append(ok.text)
    # Refusals with the secret in the body: the error names the problem, not the value.
    refused = [
        await _put(
            client,
            owner,
            "emailbison",
            {"base_url": "https://x.example.com", "api_key": secrets["emailbison"][1]},
        ),
        await _put(client, owner, "ghl", {"location_id": "l", "api_key": secrets["ghl"][1] + " x"}),
        await _put(
            client,
            owner,
            "slack",
            {"webhook_url": "http://hooks.slack.com/services/T1/B2/SEEDEDslack0004"},
        ),
    ]
    assert [r.status_code for r in refused] == [422, 422, 422]
    answers += [r.text for r in refused]
    answers.append((await client.get(owner.url("integrations"), headers=owner.headers)).text)
    answers.append((await client.get("/openapi.json")).text)
    stored = await fetch(
        database_url,
        "SELECT settings::text, secret_hint, secret_ciphertext FROM integration_credentials",
    )
    jobs = await fetch(database_url, "SELECT payload::text, dedupe_key FROM jobs")
    haystack = "\n".join(
        [*answers, log_capture.text, str([dict(r) for r in stored]), str([dict(r) for r in jobs])]
    )
    for _, secret in secrets.values():
        assert secret not in haystack
    for marker in ("SEEDEDemailbison", "SEEDEDghl", "SEEDEDunipile", "SEEDEDslack"):
        assert marker not in haystack
    assert len(stored) == 4
