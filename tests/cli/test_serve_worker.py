"""``replydesk serve`` runs its queue worker as a supervised child process: events are
processed, a worker that dies is started again, and SIGTERM stops both cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import text

from replydesk.core.db import Database
from tests.support.cli import clean_env, free_port, wait_ready
from tests.support.samples import sample
from tests.support.workspaces import Ws, new_workspace


def _children(pid: int) -> list[int]:
    """Children of any of the process's threads (serve restarts its worker from a thread)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _post(port: int, ws: Ws, scheduled_email_id: int) -> int:
    payload = sample("emailbison", "email_sent")
    payload["data"]["scheduled_email"]["id"] = scheduled_email_id
    url = f"http://127.0.0.1:{port}/webhooks/emailbison/{ws.id}"
    return httpx.post(url, params={"token": ws.token}, json=payload, timeout=10).status_code


async def _processed(db: Database) -> int:
    async with db.session() as session:
        query = text("SELECT count(*) FROM webhook_events WHERE status = 'succeeded'")
        return int((await session.execute(query)).scalar_one())


async def test_serve_supervises_its_worker_process(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    ws = await new_workspace(db)
    port = free_port()
    env = clean_env(
        DATABASE_URL=database_url,
        REPLYDESK_DATA_DIR=str(tmp_path / "data"),
        REPLYDESK_SHUTDOWN_DRAIN_S="0.5",
        REPLYDESK_WORKER_POLL_INTERVAL_S="0.2",
        REPLYDESK_LOG_LEVEL="info",
    )
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "replydesk", "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=log,
        )
    try:
        wait_ready(port, proc)
        _wait_for(lambda: _children(proc.pid), 30, "the worker process")
        [first] = _children(proc.pid)
        assert os.getpriority(os.PRIO_PROCESS, first) == 10  # below the API's 0

        assert _post(port, ws, 1) == 202
        deadline = time.monotonic() + 30
        while await _processed(db) < 1:
            assert time.monotonic() < deadline, "the child worker did not process the event"
            time.sleep(0.1)

        os.kill(first, signal.SIGKILL)  # a crash: serve starts another one
        _wait_for(lambda: _children(proc.pid) not in ([], [first]), 30, "a new worker process")
        [second] = _children(proc.pid)
        assert _post(port, ws, 2) == 202
        deadline = time.monotonic() + 30
        while await _processed(db) < 2:
            assert time.monotonic() < deadline, "the restarted worker did not process the event"
            time.sleep(0.1)

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert not Path(f"/proc/{second}").exists() or _zombie(second)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines = [json.loads(x) for x in log_path.read_text().splitlines() if x.startswith("{")]
    events = [line.get("event") for line in lines]
    assert events.count("worker_process_started") == 2
    [exited] = [line for line in lines if line.get("event") == "worker_process_exited"]
    assert exited["level"] == "error" and exited["error_class"] == "worker_exited"
    assert exited["exit_code"] == -signal.SIGKILL
    assert "worker_stopped" in events and "worker_process_killed" not in events


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
