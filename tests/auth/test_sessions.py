"""Login, browser sessions (cookies, expiry, rotation, CSRF), logout, /me, tokens."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from replydesk.core.db import Database
from replydesk.core.security import hash_token
from tests.support.http import https_client, login
from tests.support.logs import LogCapture, error_lines
from tests.support.members import PASSWORD, Member, add_member, new_workspace_owner
from tests.support.rows import fetch_rows


@pytest.fixture
async def owner(db: Database) -> Member:
    return await new_workspace_owner(db, "Acme", "Sam@Acme.example")


def _set_cookies(resp: httpx.Response) -> dict[str, str]:
    return {header.split("=", 1)[0]: header for header in resp.headers.get_list("set-cookie")}


async def test_login_sets_hardened_cookies_and_stores_only_hashes(
    app: FastAPI, db: Database, owner: Member
) -> None:
    async with https_client(app) as client:
        resp = await client.post(
            "/api/v1/auth/login", json={"email": "  SAM@acme.example ", "password": PASSWORD}
        )
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["user"]["email"] == "sam@acme.example"
        assert body["workspaces"] == [
            {"id": str(owner.workspace_id), "name": "Acme", "role": "owner"}
        ]
        cookies = _set_cookies(resp)
        session_cookie = cookies["rd_session"].lower()
        assert "httponly" in session_cookie
        assert "secure" in session_cookie
        assert "samesite=lax" in session_cookie
        csrf_cookie = cookies["rd_csrf"].lower()
        assert "httponly" not in csrf_cookie and "secure" in csrf_cookie
        assert resp.headers["cache-control"] == "no-store"

        token = client.cookies["rd_session"]
        rows = await fetch_rows(db, "SELECT token_hash, csrf_token_hash FROM browser_sessions")
        assert rows == [
            {"token_hash": hash_token(token), "csrf_token_hash": hash_token(body["csrf_token"])}
        ]
        users = await fetch_rows(
            db, "SELECT password_hash FROM users WHERE email = 'sam@acme.example'"
        )
        assert users[0]["password_hash"].startswith("$argon2id$")
        assert PASSWORD not in users[0]["password_hash"]

        me = await client.get("/api/v1/me")
        assert me.status_code == 200
        assert me.json()["auth"]["kind"] == "session"
        assert me.json()["workspaces"][0]["id"] == str(owner.workspace_id)


async def test_cookie_secure_flag_follows_the_setting(
    db: Database, owner: Member, settings: object
) -> None:
    from replydesk.app import create_app
    from replydesk.core.settings import Settings

    assert isinstance(settings, Settings)
    plain = create_app(settings.model_copy(update={"cookie_secure": False}), database=db)
    async with plain.router.lifespan_context(plain), https_client(plain) as client:
        resp = await client.post(
            "/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD}
        )
        assert "secure" not in _set_cookies(resp)["rd_session"].lower()


@pytest.mark.parametrize(
    ("email", "password"),
    [("sam@acme.example", "wrong password!"), ("nobody@acme.example", PASSWORD)],
)
async def test_wrong_credentials_answer_the_same_401(
    app: FastAPI, db: Database, owner: Member, email: str, password: str
) -> None:
    async with https_client(app) as client:
        resp = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert resp.status_code == 401
    assert resp.json() == {
        "error": {"code": "invalid_credentials", "message": "e-mail or password is wrong"}
    }
    assert "set-cookie" not in resp.headers
    assert await fetch_rows(db, "SELECT id FROM browser_sessions") == []


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"email": "sam@acme.example"}, "password"),
        ({"email": "not-an-address", "password": "x"}, "e-mail"),
        ({"email": "sam@acme.example", "password": "x", "extra": 1}, "extra"),
        ({"email": "sam@acme.example", "password": "x" * 1025}, "password"),
    ],
)
async def test_bad_login_bodies_are_422_naming_the_problem(
    app: FastAPI, owner: Member, body: dict[str, object], needle: str
) -> None:
    async with https_client(app) as client:
        resp = await client.post("/api/v1/auth/login", json=body)
    assert resp.status_code == 422
    error = resp.json()["error"]
    assert error["code"] == "validation_error"
    assert needle in error["message"]


async def test_signed_out_requests_are_401_and_never_logged_as_errors(
    app: FastAPI, db: Database, owner: Member, log_capture: LogCapture
) -> None:
    async with https_client(app) as client:
        cases = [
            await client.get("/api/v1/me"),
            await client.get(owner.url("inbox/counts")),
            await client.get(owner.url("leads")),
            await client.get("/api/v1/me", headers={"Authorization": "Bearer rdp_nope"}),
            await client.get("/api/v1/me", headers={"Authorization": "Basic abc"}),
        ]
        expired_cookie = await client.get(
            owner.url("inbox/counts"), headers={"Cookie": "rd_session=rds_" + "x" * 43}
        )
        cases.append(expired_cookie)
    for resp in cases:
        assert resp.status_code == 401, resp.text
        assert resp.json()["error"]["code"] == "signed_out"
    # A dead cookie is cleared so the browser stops sending it.
    assert "rd_session=" in expired_cookie.headers.get("set-cookie", "")
    records = log_capture.records()
    assert error_lines(records) == []
    signed_out = [r for r in records if r.get("event") == "signed_out"]
    assert {r["level"] for r in signed_out} == {"debug"}
    assert {r["reason"] for r in signed_out} >= {
        "no_credentials",
        "unknown_or_revoked_token",
        "session_expired",
    }
    # Nothing looked up a session for the request without a cookie: no refresh attempt.
    assert await fetch_rows(db, "SELECT id FROM browser_sessions") == []


async def test_absolute_and_idle_expiry(app: FastAPI, db: Database, owner: Member) -> None:
    async with https_client(app) as client:
        await login(client, owner.email)
        assert (await client.get("/api/v1/me")).status_code == 200
        await fetch_rows(
            db, "UPDATE browser_sessions SET expires_at = now() - interval '1 s' RETURNING id"
        )
        assert (await client.get("/api/v1/me")).status_code == 401

    async with https_client(app) as client:
        await login(client, owner.email)
        await fetch_rows(
            db,
            "UPDATE browser_sessions SET refreshed_at = now() - interval '4 days' "
            "WHERE expires_at > now() RETURNING id",
        )
        resp = await client.get("/api/v1/me")
        assert resp.status_code == 401
        assert resp.json()["error"]["code"] == "signed_out"


async def test_rotation_is_two_phase_with_a_grace_period(
    app: FastAPI, db: Database, owner: Member
) -> None:
    async with https_client(app) as client:
        await login(client, owner.email)
    old = client.cookies["rd_session"]
    with_old = {"Cookie": f"rd_session={old}"}
    async with https_client(app) as client:
        # Not due yet: no new cookie.
        resp = await client.get("/api/v1/me", headers=with_old)
        assert "set-cookie" not in resp.headers
        await fetch_rows(
            db, "UPDATE browser_sessions SET refreshed_at = now() - interval '2 hours' RETURNING id"
        )
        resp = await client.get("/api/v1/me", headers=with_old)
        assert resp.status_code == 200
        issued = resp.headers["set-cookie"]
        assert "httponly" in issued.lower() and "secure" in issued.lower()
        new = issued.split(";", 1)[0].split("=", 1)[1]
        assert new != old
        rows = await fetch_rows(db, "SELECT token_hash, next_token_hash FROM browser_sessions")
        assert rows == [{"token_hash": hash_token(old), "next_token_hash": hash_token(new)}]
        with_new = {"Cookie": f"rd_session={new}"}
        # Until the browser presents the new cookie, the old one is the session.
        resp = await client.get("/api/v1/me", headers=with_old)
        assert resp.status_code == 200 and "set-cookie" not in resp.headers
        # The first request with the new cookie promotes it.
        assert (await client.get("/api/v1/me", headers=with_new)).status_code == 200
        rows = await fetch_rows(
            db, "SELECT token_hash, next_token_hash, previous_token_hash FROM browser_sessions"
        )
        assert rows == [
            {
                "token_hash": hash_token(new),
                "next_token_hash": None,
                "previous_token_hash": hash_token(old),
            }
        ]
        # In flight with the old cookie: accepted during the grace period only.
        assert (await client.get("/api/v1/me", headers=with_old)).status_code == 200
        await fetch_rows(
            db,
            "UPDATE browser_sessions SET refreshed_at = now() - interval '5 minutes' RETURNING id",
        )
        assert (await client.get("/api/v1/me", headers=with_old)).status_code == 401
        assert (await client.get("/api/v1/me", headers=with_new)).status_code == 200


async def test_a_new_cookie_that_never_arrives_signs_nobody_out(
    app: FastAPI, db: Database, owner: Member
) -> None:
    async with https_client(app) as client:
        await login(client, owner.email)
    old = {"Cookie": f"rd_session={client.cookies['rd_session']}"}
    await fetch_rows(
        db, "UPDATE browser_sessions SET refreshed_at = now() - interval '2 hours' RETURNING id"
    )
    pending = "SELECT next_token_hash FROM browser_sessions WHERE next_token_hash IS NOT NULL"
    async with https_client(app) as client:
        # An error response rolls its transaction back: no cookie, nothing pending.
        failed = await client.get(owner.url("leads/999999"), headers=old)
        assert failed.status_code == 404
        assert "set-cookie" not in failed.headers
        assert await fetch_rows(db, pending) == []
        # A success whose new cookie is lost on the way (dropped connection): the old
        # cookie stays the session, long after the grace period, and gets a fresh one.
        lost = await client.get("/api/v1/me", headers=old)
        assert lost.headers["set-cookie"].startswith("rd_session=")
        await fetch_rows(
            db,
            "UPDATE browser_sessions SET next_issued_at = now() - interval '10 minutes' "
            "RETURNING id",
        )
        again = await client.get("/api/v1/me", headers=old)
        assert again.status_code == 200
        fresh = again.headers["set-cookie"].split(";", 1)[0].split("=", 1)[1]
        assert fresh != lost.headers["set-cookie"].split(";", 1)[0].split("=", 1)[1]
        assert await fetch_rows(db, pending) == [{"next_token_hash": hash_token(fresh)}]


async def test_cookie_writes_need_the_csrf_header_bearer_writes_do_not(
    app: FastAPI, db: Database, owner: Member
) -> None:
    lead_id = (
        await fetch_rows(
            db,
            "INSERT INTO leads (workspace_id, email) VALUES (:ws, 'x@y.example') RETURNING id",
            ws=owner.workspace_id,
        )
    )[0]["id"]
    path = owner.url(f"leads/{lead_id}")
    async with https_client(app) as client:
        csrf = await login(client, owner.email)
        missing = await client.patch(path, json={"category": "interested"})
        wrong = await client.patch(
            path, json={"category": "interested"}, headers={"X-CSRF-Token": "rdc_wrong"}
        )
        for resp in (missing, wrong):
            assert resp.status_code == 403
            assert resp.json()["error"]["code"] == "csrf_failed"
        assert (await fetch_rows(db, "SELECT category FROM leads"))[0]["category"] is None
        ok = await client.patch(
            path, json={"category": "interested"}, headers={"X-CSRF-Token": csrf}
        )
        assert ok.status_code == 200
        assert ok.json()["category"] == "interested"
        # GETs need no CSRF header.
        assert (await client.get(path)).status_code == 200
    async with https_client(app) as client:
        resp = await client.patch(path, json={"category": "question"}, headers=owner.headers)
        assert resp.status_code == 200
        assert resp.json()["category"] == "question"


async def test_logout_ends_the_session_and_is_idempotent(
    app: FastAPI, db: Database, owner: Member
) -> None:
    async with https_client(app) as client:
        csrf = await login(client, owner.email)
        refused = await client.post("/api/v1/auth/logout")
        assert refused.status_code == 403
        assert len(await fetch_rows(db, "SELECT id FROM browser_sessions")) == 1
        resp = await client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
        assert resp.status_code == 204
        assert await fetch_rows(db, "SELECT id FROM browser_sessions") == []
        cleared = resp.headers.get_list("set-cookie")
        assert any(c.startswith("rd_session=") and "max-age=0" in c.lower() for c in cleared)
        assert (await client.get("/api/v1/me")).status_code == 401
        again = await client.post("/api/v1/auth/logout")
        assert again.status_code == 204


async def test_login_replaces_a_presented_session(
    app: FastAPI, db: Database, owner: Member
) -> None:
    async with https_client(app) as client:
        await login(client, owner.email)
        first = client.cookies["rd_session"]
        await login(client, owner.email)
        assert client.cookies["rd_session"] != first
        rows = await fetch_rows(db, "SELECT token_hash FROM browser_sessions")
        assert rows == [{"token_hash": hash_token(client.cookies["rd_session"])}]


async def test_me_with_a_token_shows_only_its_workspace(
    app: FastAPI, db: Database, owner: Member
) -> None:
    other = await new_workspace_owner(db, "Other", "sam@acme.example")
    async with https_client(app) as client:
        resp = await client.get("/api/v1/me", headers=other.headers)
    assert resp.status_code == 200
    body = resp.json()
    assert body["auth"] == {
        "kind": "token",
        "expires_at": None,
        "token_workspace_id": str(other.workspace_id),
    }
    assert [w["id"] for w in body["workspaces"]] == [str(other.workspace_id)]
    async with https_client(app) as client:
        await login(client, owner.email)
        both = (await client.get("/api/v1/me")).json()["workspaces"]
    assert {w["id"] for w in both} == {str(owner.workspace_id), str(other.workspace_id)}


async def test_revoked_token_and_removed_member_are_signed_out(
    app: FastAPI, db: Database, owner: Member
) -> None:
    member = await add_member(db, owner.workspace_id, "kim@acme.example")
    async with https_client(app) as client:
        assert (await client.get("/api/v1/me", headers=member.headers)).status_code == 200
        used = await fetch_rows(
            db,
            "SELECT last_used_at FROM api_tokens WHERE token_hash = :h",
            h=hash_token(member.token),
        )
        assert used[0]["last_used_at"] is not None
        await fetch_rows(
            db,
            "DELETE FROM memberships WHERE user_id = :u RETURNING user_id",
            u=member.user_id,
        )
        resp = await client.get(member.url("inbox/counts"), headers=member.headers)
        assert resp.status_code == 401
        await fetch_rows(
            db,
            "UPDATE api_tokens SET revoked_at = now() WHERE token_hash = :h RETURNING id",
            h=hash_token(owner.token),
        )
        resp = await client.get(owner.url("inbox/counts"), headers=owner.headers)
        assert resp.status_code == 401
        assert resp.json()["error"]["code"] == "signed_out"


async def test_session_user_sees_only_workspaces_they_belong_to(
    app: FastAPI, db: Database, owner: Member
) -> None:
    stranger = await new_workspace_owner(db, "Stranger", "lee@else.example")
    async with https_client(app) as client:
        await login(client, owner.email)
        resp = await client.get(stranger.url("inbox/counts"))
        assert resp.status_code == 404
        assert resp.json()["error"]["code"] == "not_found"
        assert (await client.get(owner.url("inbox/counts"))).status_code == 200
