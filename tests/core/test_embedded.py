"""Embedded PostgreSQL is stopped and its folder deleted when the tests are done with it."""

from __future__ import annotations

import tempfile
from pathlib import Path

import psutil  # a pgserver dependency
import pytest

from replydesk.core import embedded
from tests.support import pg


def _postmaster_pid(pgdata: Path) -> int:
    return int((pgdata / "postmaster.pid").read_text().split()[0])


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_cleanup_stops_the_embedded_server_and_deletes_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEST_DATABASE_URL", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    # Only this test's server: the session's own (if embedded) stays in the real list.
    monkeypatch.setattr(pg, "_embedded_dirs", [])

    pg.server_url()
    (data_dir,) = tmp_path.glob("replydesk-test-*")
    pgdata = (data_dir / "pg").resolve()
    pid = _postmaster_pid(pgdata)
    assert _alive(pid)
    assert pgdata in embedded._servers

    pg.cleanup()

    assert not _alive(pid)
    assert pgdata not in embedded._servers
    assert not data_dir.exists()
    pg.cleanup()  # nothing left to do
    embedded.stop_embedded(data_dir)  # nor here: this process no longer runs that server
