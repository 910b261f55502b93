"""``replydesk backup`` / ``restore``: a round trip through pg_dump's custom format, refusal
to restore over a database that is not empty, ``--force``; the embedded server included."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import pg
from tests.support.cli import clean_env, run_replydesk
from tests.support.queue import fetch


@pytest.fixture
def empty_database_url(pg_url: str) -> Iterator[str]:
    url = pg.create_database(pg_url)
    yield url
    pg.drop_database(url)


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_replydesk(*args, env=clean_env(**env))


def _workspaces(env: dict[str, str]) -> list[str]:
    proc = _cli(env, "workspace", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    return sorted(w["name"] for w in json.loads(proc.stdout))


async def test_round_trip_refuses_a_non_empty_database_without_force(
    database_url: str, empty_database_url: str, tmp_path: Path
) -> None:
    source, target = {"DATABASE_URL": database_url}, {"DATABASE_URL": empty_database_url}
    for name in ("Acme", "Globex"):
        made = _cli(source, "workspace", "create", name, "--owner-email", f"o@{name}.example")
        assert made.returncode == 0, made.stderr
    await fetch(
        database_url,
        "INSERT INTO jobs (type, payload, dedupe_key, status) VALUES ('t', '{\"x\": 1}', 'k', "
        "'dead')",
    )
    dump = tmp_path / "replydesk.dump"
    done = _cli(source, "backup", str(dump))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["bytes"] == dump.stat().st_size > 0
    assert not list(tmp_path.glob("*.partial"))

    restored = _cli(target, "restore", str(dump))
    assert restored.returncode == 0, restored.stderr
    assert _workspaces(target) == ["Acme", "Globex"]
    jobs = await fetch(empty_database_url, "SELECT dedupe_key, status, payload FROM jobs")
    assert [(r["dedupe_key"], r["status"], json.loads(r["payload"])) for r in jobs] == [
        ("k", "dead", {"x": 1})
    ]
    # Identity sequences continue after the restored rows (a new row gets a new id).
    new_id = await fetch(
        empty_database_url,
        "INSERT INTO jobs (type, payload, dedupe_key) VALUES ('t', '{}', 'k2') RETURNING id",
    )
    assert new_id[0]["id"] > 1

    # Not empty now: refused, nothing changed.
    refused = _cli(target, "restore", str(dump))
    assert refused.returncode == 1
    assert "not empty" in refused.stderr and "--force" in refused.stderr
    assert await fetch(empty_database_url, "SELECT 1 FROM jobs WHERE dedupe_key = 'k2'")
    forced = _cli(target, "restore", str(dump), "--force")
    assert forced.returncode == 0, forced.stderr
    assert not await fetch(empty_database_url, "SELECT 1 FROM jobs WHERE dedupe_key = 'k2'")
    assert _workspaces(target) == ["Acme", "Globex"]


def test_missing_file_and_database_url_never_in_errors(
    empty_database_url: str, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": empty_database_url}
    missing = _cli(env, "restore", str(tmp_path / "nope.dump"))
    assert missing.returncode == 1 and "no such backup file" in missing.stderr
    garbage = tmp_path / "garbage.dump"
    garbage.write_bytes(b"not a dump")
    bad = _cli(env, "restore", str(garbage))
    assert bad.returncode == 1 and "pg_restore failed" in bad.stderr
    assert empty_database_url not in bad.stderr


@pytest.fixture
def data_root() -> Iterator[Path]:
    """A short folder of our own for two embedded clusters (deleted after the test; each CLI
    process stops its server when it exits)."""
    path = Path(tempfile.mkdtemp(prefix="rd-backup-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_embedded_server_round_trip(data_root: Path) -> None:
    """The embedded server's own pg_dump/pg_restore (pgserver's binaries), data folder to
    data folder."""
    first = {"REPLYDESK_DATA_DIR": str(data_root / "a")}
    second = {"REPLYDESK_DATA_DIR": str(data_root / "b")}
    made = _cli(first, "workspace", "create", "Acme", "--owner-email", "o@acme.example")
    assert made.returncode == 0, made.stderr
    dump = data_root / "embedded.dump"
    backed_up = _cli(first, "backup", str(dump))
    assert backed_up.returncode == 0, backed_up.stderr
    restored = _cli(second, "restore", str(dump))
    assert restored.returncode == 0, restored.stderr
    assert _workspaces(second) == ["Acme"]
