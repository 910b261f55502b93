"""Administration API: workspaces, members, invitations, API tokens, webhook token rotation."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from replydesk.app import create_app
from replydesk.core.db import Database
from replydesk.core.security import hash_token
from replydesk.core.settings import Settings
from tests.support.http import https_client, login, post
from tests.support.members import PASSWORD, Member, add_member, new_workspace_owner
from tests.support.rows import fetch_rows
from tests.support.samples import email_sent
from tests.support.workspaces import Ws


async def test_workspaces_lists_the_callers_memberships(
    app: FastAPI, db: Database, owner: Member
) -> None:
    other = await new_workspace_owner(db, "Beta", "bo@beta.example")
    await add_member(db, other.workspace_id, owner.email, "member")
    async with https_client(app) as client:
        await login(client, owner.email)
        resp = await client.get("/api/v1/workspaces")
        assert resp.status_code == 200, resp.text
        assert resp.json()["items"] == [
            {"id": str(owner.workspace_id), "name": "Acme", "role": "owner"},
            {"id": str(other.workspace_id), "name": "Beta", "role": "member"},
        ]
        # An API token sees its one workspace.
        scoped = await client.get("/api/v1/workspaces", headers=owner.headers)
        assert [w["id"] for w in scoped.json()["items"]] == [str(owner.workspace_id)]
    async with https_client(app) as anonymous:
        assert (await anonymous.get("/api/v1/workspaces")).status_code == 401


async def test_invitation_is_single_use_and_sets_the_password(
    app: FastAPI, db: Database, owner: Member
) -> None:
    async with https_client(app) as client:
        resp = await client.post(
            owner.url("invitations"),
            json={"email": " New.Person@Acme.example ", "role": "admin"},
            headers=owner.headers,
        )
        assert resp.status_code == 201, resp.text
        invitation = resp.json()
        assert (invitation["email"], invitation["role"]) == ("new.person@acme.example", "admin")
        token = invitation["token"]
        stored = await fetch_rows(db, "SELECT token_hash FROM invitations")
        assert token not in str(stored)  # only the hash is kept
        short = await client.post(
            "/api/v1/invitations/accept", json={"token": token, "password": "short"}
        )
        assert short.status_code == 422 and "at least" in short.json()["error"]["message"]
        accepted = await client.post(
            "/api/v1/invitations/accept",
            json={"token": token, "password": PASSWORD, "display_name": "New"},
        )
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["role"] == "admin" and accepted.json()["created_user"] is True
        again = await client.post(
            "/api/v1/invitations/accept", json={"token": token, "password": PASSWORD}
        )
        assert again.status_code == 404
        await login(client, "new.person@acme.example")
        mine = (await client.get("/api/v1/workspaces")).json()["items"]
        assert [(w["id"], w["role"]) for w in mine] == [(str(owner.workspace_id), "admin")]
        # Already a member: no second invitation.
        dup = await client.post(
            owner.url("invitations"),
            json={"email": "new.person@acme.example"},
            headers=owner.headers,
        )
        assert dup.status_code == 409


async def test_invitation_never_replaces_an_existing_password_and_expires(
    app: FastAPI, db: Database, owner: Member
) -> None:
    elsewhere = await new_workspace_owner(db, "Beta", "bo@beta.example")
    async with https_client(app) as client:

        async def invite(email: str) -> str:
            resp = await client.post(
                owner.url("invitations"), json={"email": email}, headers=owner.headers
            )
            assert resp.status_code == 201, resp.text
            token: str = resp.json()["token"]
            return token

        token = await invite(elsewhere.email)
        wrong = await client.post(
            "/api/v1/invitations/accept",
            json={"token": token, "password": "someone else's guess"},
        )
        assert wrong.status_code == 401
        right = await client.post(
            "/api/v1/invitations/accept", json={"token": token, "password": PASSWORD}
        )
        assert right.status_code == 200 and right.json()["created_user"] is False
        late = await invite("late@acme.example")
        async with db.session() as session:
            await session.execute(
                text("UPDATE invitations SET expires_at = now() - interval '1 second'")
            )
        expired = await client.post(
            "/api/v1/invitations/accept", json={"token": late, "password": PASSWORD}
        )
        assert expired.status_code == 404


async def test_roles_only_owners_make_owners_and_the_last_owner_stays(
    app: FastAPI, db: Database, owner: Member
) -> None:
    admin = await add_member(db, owner.workspace_id, "ada@acme.example", "admin")
    member = await add_member(db, owner.workspace_id, "mo@acme.example", "member")
    async with https_client(app) as client:

        async def patch(who: Member, user: Member, role: str) -> httpx.Response:
            return await client.patch(
                who.url(f"members/{user.user_id}"), json={"role": role}, headers=who.headers
            )

        listed = await client.get(owner.url("members"), headers=admin.headers)
        assert [(m["email"], m["role"]) for m in listed.json()["items"]] == [
            ("ada@acme.example", "admin"),
            ("mo@acme.example", "member"),
            ("sam@acme.example", "owner"),
        ]
        assert (await client.get(owner.url("members"), headers=member.headers)).status_code == 403
        assert (await patch(admin, member, "owner")).status_code == 403
        assert (await patch(admin, owner, "member")).status_code == 403
        assert (await patch(admin, member, "admin")).json()["role"] == "admin"
        last = await patch(owner, owner, "admin")
        assert last.status_code == 409 and "last owner" in last.json()["error"]["message"]
        removed = await client.delete(owner.url(f"members/{owner.user_id}"), headers=owner.headers)
        assert removed.status_code == 409
        assert (await patch(owner, admin, "owner")).json()["role"] == "owner"
        assert (await patch(owner, owner, "admin")).status_code == 200  # another owner remains
        gone = await client.delete(owner.url(f"members/{member.user_id}"), headers=admin.headers)
        assert gone.status_code == 204
        # Their tokens stop working, and stay revoked.
        assert (await client.get("/api/v1/me", headers=member.headers)).status_code == 401
        revoked = await fetch_rows(
            db, "SELECT revoked_at FROM api_tokens WHERE user_id = :u", u=member.user_id
        )
        assert all(r["revoked_at"] is not None for r in revoked)
        missing = await client.delete(owner.url(f"members/{member.user_id}"), headers=admin.headers)
        assert missing.status_code == 404


async def test_api_tokens_create_list_revoke(app: FastAPI, db: Database, owner: Member) -> None:
    async with https_client(app) as client:
        csrf = await login(client, owner.email)
        no_csrf = await client.post(owner.url("api-tokens"), json={"name": "ci"})
        assert no_csrf.status_code == 403
        created = await client.post(
            owner.url("api-tokens"), json={"name": "ci"}, headers={"X-CSRF-Token": csrf}
        )
        assert created.status_code == 201, created.text
        secret = created.json()["token"]
        bearer = {"Authorization": f"Bearer {secret}"}
        assert (await client.get("/api/v1/me", headers=bearer)).status_code == 200
        listed = await client.get(owner.url("api-tokens"))
        assert secret not in listed.text
        names = [(t["name"], t["email"]) for t in listed.json()["items"]]
        assert names == [("created with workspace", owner.email), ("ci", owner.email)]
        token_id = created.json()["token_id"]
        for _ in range(2):  # idempotent
            resp = await client.delete(
                owner.url(f"api-tokens/{token_id}"), headers={"X-CSRF-Token": csrf}
            )
            assert resp.status_code == 200
        assert (await client.get("/api/v1/me", headers=bearer)).status_code == 401


OLD_TOKEN = "rdw_old_token_1"


async def _set_webhook_token(db: Database, token: str) -> None:
    async with db.session() as session:
        await session.execute(
            text("UPDATE workspaces SET webhook_token_hash = :h, "
                 "previous_webhook_token_hash = NULL"),
            {"h": hash_token(token)},
        )  # fmt: skip


async def test_rotated_webhook_token_keeps_working_for_the_grace_period(
    settings: Settings, db: Database, owner: Member
) -> None:
    sends = iter(range(1, 100))

    async def send(client: httpx.AsyncClient, token: str) -> int:
        ws = Ws(owner.workspace_id, token)
        return (await post(client, ws, "emailbison", email_sent(next(sends)))).status_code

    for grace, old_status in ((3600, 202), (0, 401)):
        await _set_webhook_token(db, OLD_TOKEN)
        app = create_app(settings.model_copy(update={"webhook_token_grace_s": grace}), database=db)
        async with app.router.lifespan_context(app), https_client(app) as client:
            assert await send(client, OLD_TOKEN) == 202  # now cached in this process
            resp = await client.post(owner.url("webhook-token/rotate"), headers=owner.headers)
            assert resp.status_code == 200, resp.text
            new_token = resp.json()["webhook_token"]
            assert new_token.startswith("rdw_") and new_token != OLD_TOKEN
            # The new token works at once in this process, the old one for the grace period.
            assert await send(client, new_token) == 202
            assert await send(client, OLD_TOKEN) == old_status
            assert await send(client, "rdw_never_valid") == 401
