"""`replydesk workspace list`, `webhook-token rotate` and `token revoke --workspace`."""

from __future__ import annotations

import json
import subprocess

from replydesk.core.db import Database
from replydesk.core.security import hash_token
from tests.support.cli import clean_env, run_replydesk
from tests.support.rows import fetch_rows
from tests.support.workspaces import new_workspace


def _cli(*args: str, url: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_replydesk(*args, env=clean_env(DATABASE_URL=url, **env))


async def test_workspace_list_and_webhook_token_rotate(db: Database, database_url: str) -> None:
    beta = await new_workspace(db, "Beta")
    acme = await new_workspace(db, "Acme")
    listed = _cli("workspace", "list", "--json", url=database_url)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [(r["name"], r["workspace_id"]) for r in rows] == [
        ("Acme", str(acme.id)),
        ("Beta", str(beta.id)),
    ]
    plain = _cli("workspace", "list", "--limit", "1", url=database_url)
    assert plain.stdout.splitlines() == [
        f"workspace_id={acme.id} name=Acme created_at={rows[0]['created_at']}"
    ]

    rotated = _cli(
        "webhook-token", "rotate", "--workspace", str(acme.id), "--json", url=database_url,
        REPLYDESK_WEBHOOK_TOKEN_GRACE_S="120",
    )  # fmt: skip
    assert rotated.returncode == 0, rotated.stderr
    out = json.loads(rotated.stdout)
    [row] = await fetch_rows(
        db,
        "SELECT webhook_token_hash, previous_webhook_token_hash, "
        "extract(epoch FROM previous_webhook_token_expires_at - now()) AS left_s "
        "FROM workspaces WHERE id = :id",
        id=acme.id,
    )
    assert row["webhook_token_hash"] == hash_token(out["webhook_token"])
    assert row["previous_webhook_token_hash"] == hash_token(acme.token)
    assert 60 < row["left_s"] <= 120
    now = _cli(
        "webhook-token", "rotate", "--workspace", str(acme.id), "--grace-s", "0", url=database_url
    )
    assert now.returncode == 0 and "webhook_token: rdw_" in now.stdout
    missing = _cli(
        "webhook-token", "rotate", "--workspace", "00000000-0000-0000-0000-000000000000",
        url=database_url,
    )  # fmt: skip
    assert missing.returncode == 1 and "workspace not found" in missing.stderr


async def test_token_revoke_scoped_to_a_workspace(db: Database, database_url: str) -> None:
    acme = await new_workspace(db, "Acme")
    beta = await new_workspace(db, "Beta")
    [token] = await fetch_rows(db, "SELECT id FROM api_tokens WHERE workspace_id = :ws", ws=acme.id)
    wrong = _cli("token", "revoke", str(token["id"]), "--workspace", str(beta.id), url=database_url)
    assert wrong.returncode == 1 and "API token not found" in wrong.stderr
    right = _cli(
        "token", "revoke", str(token["id"]), "--workspace", str(acme.id), "--json",
        url=database_url,
    )  # fmt: skip
    assert right.returncode == 0, right.stderr
    assert json.loads(right.stdout)["token_id"] == token["id"]
