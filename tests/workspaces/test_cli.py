from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import asyncpg

from replydesk.core.security import hash_token
from tests.support.cli import run_replydesk


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REPLYDESK_DATABASE_URL")
    }
    env.update(extra)
    return env


async def _rows(url: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(
            "SELECT id, name, webhook_token_hash FROM workspaces ORDER BY created_at"
        )
    finally:
        await conn.close()


def test_workspace_create_twice_gives_two_workspaces(database_url: str) -> None:
    env = _env(DATABASE_URL=database_url)
    outputs = []
    for _ in range(2):
        proc = run_replydesk(
            "workspace", "create", "Acme", "--owner-email", "Sam@Acme.example", "--json", env=env
        )
        assert proc.returncode == 0, proc.stderr
        outputs.append(json.loads(proc.stdout))
    first, second = outputs
    assert set(first) == {"workspace_id", "webhook_token", "api_token"}
    assert first["workspace_id"] != second["workspace_id"]
    assert first["webhook_token"] != second["webhook_token"]
    assert first["api_token"] != second["api_token"]
    rows = asyncio.run(_rows(database_url))
    assert [r["name"] for r in rows] == ["Acme", "Acme"]
    # Stored hashed only.
    assert rows[0]["webhook_token_hash"] == hash_token(first["webhook_token"])
    assert first["webhook_token"] not in {r["webhook_token_hash"] for r in rows}


def test_workspace_create_on_embedded_database(tmp_path: Path) -> None:
    env = _env(REPLYDESK_DATA_DIR=str(tmp_path / "data"))
    proc = run_replydesk(
        "workspace", "create", "Solo", "--owner-email", "a@b.example", "--json", env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["workspace_id"]
    assert (tmp_path / "data" / "pg" / "PG_VERSION").exists()


def test_workspace_create_rejects_bad_email(database_url: str) -> None:
    proc = run_replydesk(
        "workspace",
        "create",
        "X",
        "--owner-email",
        "not-an-email",
        env=_env(DATABASE_URL=database_url),
    )
    assert proc.returncode != 0
    assert "not an e-mail address" in proc.stderr + proc.stdout
