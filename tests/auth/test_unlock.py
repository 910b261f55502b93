"""Unlocking a rate-limited account (API and CLI), and passwords that end sessions."""

from __future__ import annotations

import os
import subprocess
import uuid

from fastapi import FastAPI

from replydesk.app import create_app
from replydesk.auth.service import save_user
from replydesk.core.db import Database
from replydesk.core.settings import Settings
from tests.support.cli import run_replydesk
from tests.support.http import https_client, login
from tests.support.members import PASSWORD, Member, add_member, new_workspace_owner
from tests.support.rows import fetch_rows

BAD = "nope nope nope"
LIMIT = 2


def _cli(*args: str, url: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "REPLYDESK_DATABASE_URL"}
    env["DATABASE_URL"] = url
    return run_replydesk(*args, env=env, stdin=stdin)


async def _lock_out(app: FastAPI, member: Member) -> None:
    async with https_client(app) as client:
        for _ in range(LIMIT):
            await client.post("/api/v1/auth/login", json={"email": member.email, "password": BAD})
        locked = await client.post(
            "/api/v1/auth/login", json={"email": member.email, "password": PASSWORD}
        )
        assert locked.status_code == 429


async def _can_log_in(app: FastAPI, member: Member) -> bool:
    async with https_client(app) as client:
        resp = await client.post(
            "/api/v1/auth/login", json={"email": member.email, "password": PASSWORD}
        )
        return resp.status_code == 200


async def test_an_admin_unlocks_a_member_of_their_workspace(
    settings: Settings, db: Database
) -> None:
    owner = await new_workspace_owner(db, "Acme", "sam@acme.example")
    kim = await add_member(db, owner.workspace_id, "kim@acme.example")
    admin = await add_member(db, owner.workspace_id, "ada@acme.example", "admin")
    app = create_app(
        settings.model_copy(update={"login_max_attempts_per_account": LIMIT}), database=db
    )
    async with app.router.lifespan_context(app):
        await _lock_out(app, kim)
        async with https_client(app) as client:
            # A plain member may not unlock anyone.
            denied = await client.post(
                kim.url(f"members/{owner.user_id}/unlock"), headers=kim.headers
            )
            assert denied.status_code == 403
            assert not await _can_log_in(app, kim)
            done = await client.post(
                admin.url(f"members/{kim.user_id}/unlock"), headers=admin.headers
            )
            assert done.status_code == 200, done.text
            assert done.json() == {"user_id": str(kim.user_id), "counters_cleared": 2}
        # Per-IP counters belong to the address, not to the account: they stay.
        scopes = await fetch_rows(db, "SELECT DISTINCT scope FROM login_throttles")
        assert [r["scope"] for r in scopes] == ["ip"]
        assert await _can_log_in(app, kim)
        # With a session cookie the POST needs the CSRF header, like every cookie write.
        async with https_client(app) as browser:
            csrf = await login(browser, owner.email)
            url = owner.url(f"members/{kim.user_id}/unlock")
            assert (await browser.post(url)).status_code == 403
            assert (await browser.post(url, headers={"X-CSRF-Token": csrf})).status_code == 200


async def test_unlock_is_tenant_isolated(app: FastAPI, db: Database) -> None:
    owner = await new_workspace_owner(db, "Acme", "sam@acme.example")
    other = await new_workspace_owner(db, "Other", "olga@other.example")
    async with https_client(app) as client:
        for target in (other.user_id, uuid.uuid4()):
            resp = await client.post(owner.url(f"members/{target}/unlock"), headers=owner.headers)
            assert resp.status_code == 404
            assert resp.json()["error"]["code"] == "not_found"
        # Another workspace's URL with this workspace's token: 404 too.
        resp = await client.post(
            other.url(f"members/{other.user_id}/unlock"), headers=owner.headers
        )
        assert resp.status_code == 404
        bad = await client.post(owner.url("members/not-a-uuid/unlock"), headers=owner.headers)
        assert bad.status_code == 422


async def test_cli_unlock(settings: Settings, db: Database, database_url: str) -> None:
    owner = await new_workspace_owner(db, "Acme", "sam@acme.example")
    app = create_app(
        settings.model_copy(update={"login_max_attempts_per_account": LIMIT}), database=db
    )
    async with app.router.lifespan_context(app):
        await _lock_out(app, owner)
        done = _cli("user", "unlock", "Sam@Acme.example", "--json", url=database_url)
        assert done.returncode == 0, done.stderr
        assert '"counters_cleared": 2' in done.stdout
        assert await _can_log_in(app, owner)
    unknown = _cli("user", "unlock", "nobody@acme.example", url=database_url)
    assert unknown.returncode == 1
    assert "no user" in unknown.stderr


async def test_a_new_password_ends_every_session(app: FastAPI, db: Database) -> None:
    owner = await new_workspace_owner(db, "Acme", "sam@acme.example")
    async with https_client(app) as laptop, https_client(app) as phone:
        await login(laptop, owner.email)
        await login(phone, owner.email)
        assert (await laptop.get("/api/v1/me")).status_code == 200
        async with db.session() as session:
            saved = await save_user(
                session,
                owner.email,
                password="a brand new secret",
                display_name=None,
                reset_password=True,
            )
        assert saved.sessions_ended == 2
        assert (await laptop.get("/api/v1/me")).status_code == 401
        assert (await phone.get("/api/v1/me")).status_code == 401
        # The API token is a separate credential, revoked on its own.
        assert (await laptop.get("/api/v1/me", headers=owner.headers)).status_code == 200
        # A display-name change alone keeps sessions.
        await login(laptop, owner.email, "a brand new secret")
        async with db.session() as session:
            kept = await save_user(
                session, owner.email, password=None, display_name="Sam", reset_password=False
            )
        assert kept.sessions_ended == 0
        assert (await laptop.get("/api/v1/me")).status_code == 200


async def test_cli_password_reset_signs_the_user_out(
    app: FastAPI, db: Database, database_url: str
) -> None:
    owner = await new_workspace_owner(db, "Acme", "sam@acme.example")
    async with https_client(app) as browser:
        await login(browser, owner.email)
        reset = _cli(
            "user",
            "create",
            owner.email,
            "--password-stdin",
            "--reset-password",
            "--json",
            url=database_url,
            stdin="another long secret\n",
        )
        assert reset.returncode == 0, reset.stderr
        assert '"sessions_ended": 1' in reset.stdout
        assert (await browser.get("/api/v1/me")).status_code == 401
    assert await fetch_rows(db, "SELECT id FROM browser_sessions") == []
