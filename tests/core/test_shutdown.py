"""Rolling restarts: on SIGTERM ``replydesk serve`` answers /readyz 503 first, keeps serving
(in-flight and new requests) for the drain window, then exits cleanly."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from replydesk.core.db import Database
from tests.support.cli import clean_env, free_port, get_json, wait_ready
from tests.support.samples import sample
from tests.support.workspaces import new_workspace

DRAIN_S = 3.0


async def test_sigterm_drains_readiness_first_and_finishes_in_flight_requests(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    ws = await new_workspace(db)
    port = free_port()
    env = clean_env(
        DATABASE_URL=database_url,
        REPLYDESK_DATA_DIR=str(tmp_path / "data"),
        REPLYDESK_SHUTDOWN_DRAIN_S=str(DRAIN_S),
        REPLYDESK_INGEST_BUDGET_S="8",
        REPLYDESK_LOG_LEVEL="info",
    )
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "replydesk", "serve", "--no-worker", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=log,
        )
    try:
        wait_ready(port, proc)
        body = json.dumps(sample("emailbison", "email_sent")).encode()
        slow = socket.create_connection(("127.0.0.1", port), timeout=10)
        head = (
            f"POST /webhooks/emailbison/{ws.id}?token={ws.token} HTTP/1.1\r\n"
            f"Host: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        slow.sendall(head + body[:10])  # in flight: the rest of the body comes later
        time.sleep(0.3)

        proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        status, answer = get_json(port, "/readyz")
        while status == 200 and time.monotonic() - signalled < 1.0:
            time.sleep(0.05)
            status, answer = get_json(port, "/readyz")
        assert status == 503 and answer["error"]["code"] == "shutting_down"  # type: ignore[index]
        assert time.monotonic() - signalled < 1.0
        # New requests are still served during the drain window.
        assert get_json(port, "/healthz")[0] == 200

        time.sleep(1.0)
        slow.sendall(body[10:])
        reply = slow.recv(65536).decode()
        assert reply.startswith("HTTP/1.1 202"), reply
        slow.close()

        assert proc.wait(timeout=DRAIN_S + 15) == 0
        assert time.monotonic() - signalled >= DRAIN_S - 0.2  # it did wait out the window
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines = [json.loads(x) for x in log_path.read_text().splitlines() if x.startswith("{")]
    events = [line.get("event") for line in lines]
    assert "shutdown_draining" in events and "shutdown_drained" in events
    assert not [line for line in lines if line.get("level") == "error"]
    async with db.session() as session:
        from sqlalchemy import text

        assert (await session.execute(text("SELECT count(*) FROM webhook_events"))).scalar() == 1
