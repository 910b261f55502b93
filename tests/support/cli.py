"""The ``replydesk`` command (and other test processes) run as subprocesses."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any REPLYDESK_* setting or database URL, + ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("REPLYDESK_") and k not in ("DATABASE_URL", "TEST_DATABASE_URL")
    }
    env.update(extra)
    return env


def run_replydesk(
    *args: str, env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m replydesk ARGS`` with ``env``; output captured as text, never raises."""
    return subprocess.run(
        [sys.executable, "-m", "replydesk", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_json(port: int, path: str) -> tuple[int, dict[str, object]]:
    """GET a loopback server's JSON answer: (status, body), error statuses included."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Until a ``replydesk serve`` subprocess answers /readyz 200 (fails if it exits)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "serve exited early"
        try:
            if get_json(port, "/readyz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError("serve never became ready")
