"""`replydesk user create` and `replydesk token create | list | revoke` end to end."""

from __future__ import annotations

import json
import os
import subprocess

from fastapi import FastAPI

from replydesk.core.db import Database
from replydesk.core.security import hash_token
from tests.support.cli import run_replydesk
from tests.support.http import https_client
from tests.support.rows import fetch_rows


def _cli(*args: str, url: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REPLYDESK_DATABASE_URL",)}
    env["DATABASE_URL"] = url
    return run_replydesk(*args, env=env, stdin=stdin)


async def test_user_and_token_commands(app: FastAPI, db: Database, database_url: str) -> None:
    ws = json.loads(
        _cli(
            "workspace",
            "create",
            "Acme",
            "--owner-email",
            "sam@acme.example",
            "--json",
            url=database_url,
        ).stdout
    )
    made = _cli(
        "user",
        "create",
        "Kim@Acme.example",
        "--name",
        "Kim",
        "--password-stdin",
        "--workspace",
        ws["workspace_id"],
        "--role",
        "admin",
        "--json",
        url=database_url,
        stdin="a long enough secret\n",
    )
    assert made.returncode == 0, made.stderr
    user = json.loads(made.stdout)
    assert user["email"] == "kim@acme.example"
    assert user["created"] is True and user["password_set"] is True
    assert user["role"] == "admin"

    # A second create without --reset-password must not replace the password.
    again = _cli(
        "user",
        "create",
        "kim@acme.example",
        "--password-stdin",
        url=database_url,
        stdin="another long secret\n",
    )
    assert again.returncode == 1
    assert "--reset-password" in again.stderr
    short = _cli(
        "user",
        "create",
        "lee@acme.example",
        "--password-stdin",
        url=database_url,
        stdin="short\n",
    )
    assert short.returncode == 1
    assert "at least 10 characters" in short.stderr

    async with https_client(app) as client:
        resp = await client.post(
            "/api/v1/auth/login",
            json={"email": "kim@acme.example", "password": "a long enough secret"},
        )
        assert resp.status_code == 200
        assert resp.json()["workspaces"][0]["role"] == "admin"

    created = _cli(
        "token",
        "create",
        "--workspace",
        ws["workspace_id"],
        "--email",
        "kim@acme.example",
        "--name",
        "laptop",
        "--json",
        url=database_url,
    )
    assert created.returncode == 0, created.stderr
    token = json.loads(created.stdout)
    assert token["token"].startswith("rdp_")
    stored = await fetch_rows(
        db, "SELECT token_hash FROM api_tokens WHERE id = :id", id=token["token_id"]
    )
    assert stored == [{"token_hash": hash_token(token["token"])}]

    listed = _cli("token", "list", "--workspace", ws["workspace_id"], "--json", url=database_url)
    assert token["token"] not in listed.stdout
    assert {t["name"] for t in json.loads(listed.stdout)} == {"created with workspace", "laptop"}

    headers = {"Authorization": f"Bearer {token['token']}"}
    async with https_client(app) as client:
        assert (await client.get("/api/v1/me", headers=headers)).status_code == 200
        revoked = _cli("token", "revoke", str(token["token_id"]), "--json", url=database_url)
        assert revoked.returncode == 0, revoked.stderr
        assert (await client.get("/api/v1/me", headers=headers)).status_code == 401

    outsider = _cli(
        "token",
        "create",
        "--workspace",
        ws["workspace_id"],
        "--email",
        "nobody@else.example",
        url=database_url,
    )
    assert outsider.returncode == 1
    assert "not a member" in outsider.stderr
