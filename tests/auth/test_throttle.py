"""Login rate limits, per IP, per (account, IP) and account-wide, counted in the database."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from replydesk.app import create_app
from replydesk.core.db import Database
from replydesk.core.settings import Settings
from tests.support.http import https_client
from tests.support.members import PASSWORD, new_workspace_owner
from tests.support.rows import fetch_rows


async def _app(settings: Settings, db: Database, **limits: int) -> FastAPI:
    return create_app(settings.model_copy(update=limits), database=db)


async def test_account_limit_from_one_ip_blocks_even_the_right_password_until_the_window_ends(
    settings: Settings, db: Database
) -> None:
    owner = await new_workspace_owner(db, "Acme", "sam@acme.example")
    app = await _app(settings, db, login_max_attempts_per_account=3)
    async with app.router.lifespan_context(app), https_client(app) as client:
        for _ in range(3):
            bad = await client.post(
                "/api/v1/auth/login", json={"email": owner.email, "password": "nope nope nope"}
            )
            assert bad.status_code == 401
        blocked = await client.post(
            "/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD}
        )
        assert blocked.status_code == 429
        assert blocked.json()["error"]["code"] == "too_many_requests"
        retry_after = int(blocked.headers["retry-after"])
        assert 1 <= retry_after <= settings.login_window_s
        assert "set-cookie" not in blocked.headers
    # Keys are hashes: neither the address nor the IP is stored.
    rows = await fetch_rows(
        db, "SELECT scope, key_hash, attempts FROM login_throttles ORDER BY scope"
    )
    assert [(r["scope"], r["attempts"]) for r in rows] == [
        ("account", 4),
        ("account_ip", 4),
        ("ip", 4),
    ]
    assert all(owner.email not in r["key_hash"] for r in rows)
    assert [len(r["key_hash"]) for r in rows] == [64, 64 + 1 + 64, 64]


BAD = "nope nope nope"


async def test_failures_from_many_ips_do_not_lock_the_owner_out(
    settings: Settings, db: Database
) -> None:
    """Anyone could lock any account: 10 failures from 10 IPs locked out the right password."""
    owner = await new_workspace_owner(db, "Acme", "sam@acme.example")
    app = await _app(settings, db)
    body = {"email": owner.email, "password": BAD}
    async with app.router.lifespan_context(app):
        for i in range(settings.login_max_attempts_per_account + 2):
            async with https_client(app, client_ip=f"198.51.100.{i + 1}") as attacker:
                assert (await attacker.post("/api/v1/auth/login", json=body)).status_code == 401
        async with https_client(app, client_ip="203.0.113.50") as the_owner:
            ok = await the_owner.post(
                "/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD}
            )
            assert ok.status_code == 200


async def test_above_the_account_ceiling_only_clients_that_failed_wait(
    settings: Settings, db: Database
) -> None:
    owner = await new_workspace_owner(db, "Acme", "sam@acme.example")
    app = await _app(settings, db, login_account_ceiling=4)
    good = {"email": owner.email, "password": PASSWORD}
    async with app.router.lifespan_context(app):
        for i in range(5):
            async with https_client(app, client_ip=f"198.51.100.{i + 1}") as attacker:
                bad = await attacker.post(
                    "/api/v1/auth/login", json={"email": owner.email, "password": BAD}
                )
                assert bad.status_code == 401
        # Over the ceiling: an address that already failed waits, even with the password …
        async with https_client(app, client_ip="198.51.100.1") as failed_before:
            slowed = await failed_before.post("/api/v1/auth/login", json=good)
            assert slowed.status_code == 429
            assert int(slowed.headers["retry-after"]) >= 1
        # … one that has not failed gets its attempt.
        async with https_client(app, client_ip="203.0.113.50") as the_owner:
            assert (await the_owner.post("/api/v1/auth/login", json=good)).status_code == 200
            # A success does not reset the account-wide count: the ceiling still holds.
            assert (await the_owner.post("/api/v1/auth/login", json=good)).status_code == 200


async def test_forwarded_for_does_not_change_the_client_the_app_counts(
    settings: Settings, db: Database
) -> None:
    """The app keys on the peer address; only the server (trusted_proxies) may rewrite it."""
    app = await _app(settings, db, login_max_attempts_per_ip=2)
    async with app.router.lifespan_context(app), https_client(app) as client:
        statuses = [
            (
                await client.post(
                    "/api/v1/auth/login",
                    json={"email": f"u{i}@acme.example", "password": BAD},
                    headers={"X-Forwarded-For": f"198.51.100.{i}", "X-Real-IP": f"10.0.0.{i}"},
                )
            ).status_code
            for i in range(3)
        ]
    assert statuses == [401, 401, 429]


async def test_success_resets_the_account_counter(settings: Settings, db: Database) -> None:
    owner = await new_workspace_owner(db, "Acme", "sam@acme.example")
    app = await _app(settings, db, login_max_attempts_per_account=3)
    async with app.router.lifespan_context(app), https_client(app) as client:
        for _ in range(2):
            await client.post(
                "/api/v1/auth/login", json={"email": owner.email, "password": "nope nope nope"}
            )
        ok = await client.post(
            "/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD}
        )
        assert ok.status_code == 200
        for _ in range(3):
            again = await client.post(
                "/api/v1/auth/login", json={"email": owner.email, "password": "nope nope nope"}
            )
            assert again.status_code == 401


async def test_ip_limit_spans_accounts_and_other_ips_are_unaffected(
    settings: Settings, db: Database
) -> None:
    owner = await new_workspace_owner(db, "Acme", "sam@acme.example")
    app = await _app(settings, db, login_max_attempts_per_ip=3)
    async with app.router.lifespan_context(app):
        async with https_client(app, client_ip="198.51.100.1") as attacker:
            for i in range(3):
                resp = await attacker.post(
                    "/api/v1/auth/login",
                    json={"email": f"user{i}@acme.example", "password": "guess guess"},
                )
                assert resp.status_code == 401
            blocked = await attacker.post(
                "/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD}
            )
            assert blocked.status_code == 429
        async with https_client(app, client_ip="198.51.100.2") as someone_else:
            ok = await someone_else.post(
                "/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD}
            )
            assert ok.status_code == 200


async def test_concurrent_attempts_from_two_app_instances_are_all_counted(
    settings: Settings, db: Database, pg_url: str
) -> None:
    """Two processes' worth of app (separate pools) share the counters: none is lost."""
    await new_workspace_owner(db, "Acme", "sam@acme.example")
    other_db = Database.from_settings(settings)
    try:
        apps = [
            await _app(settings, db, login_max_attempts_per_account=1000),
            await _app(settings, other_db, login_max_attempts_per_account=1000),
        ]
        async with (
            apps[0].router.lifespan_context(apps[0]),
            apps[1].router.lifespan_context(apps[1]),
            https_client(apps[0]) as one,
            https_client(apps[1]) as two,
        ):
            body = {"email": "sam@acme.example", "password": "wrong password"}
            responses = await asyncio.gather(
                *(c.post("/api/v1/auth/login", json=body) for c in [one, two] * 6)
            )
        assert [r.status_code for r in responses] == [401] * 12
    finally:
        await other_db.dispose()
    rows = await fetch_rows(db, "SELECT scope, attempts FROM login_throttles ORDER BY scope")
    assert rows == [
        {"scope": "account", "attempts": 12},
        {"scope": "account_ip", "attempts": 12},
        {"scope": "ip", "attempts": 12},
    ]
