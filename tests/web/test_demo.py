"""``replydesk demo`` end to end: a subprocess with its own embedded database and simulator."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.cli import clean_env, free_port

START_BUDGET_S = 150  # initdb, migrations and imports on a busy machine
CATEGORY_BUDGET_S = 30


def _announcement(proc: subprocess.Popen[str]) -> dict[str, str]:
    """Read the demo's stdout until its announcement: URL, e-mail, password, simulator."""
    assert proc.stdout is not None
    seen: dict[str, str] = {}
    deadline = time.monotonic() + START_BUDGET_S
    while time.monotonic() < deadline and len(seen) < 4:
        line = proc.stdout.readline()
        if not line:
            break
        found = re.match(r"\s+(inbox|e-mail|password|simulator)\s+(\S+)", line)
        if found:
            seen[found.group(1)] = found.group(2)
    assert len(seen) == 4, f"no announcement; saw {seen}"
    return seen


def _poll(fetch: Any, done: Any, budget_s: float) -> Any:
    deadline = time.monotonic() + budget_s
    while True:
        value = fetch()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.5)


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """The demo's TMPDIR: PostgreSQL's socket lives in the data folder, and a Unix socket path
    must stay under ~107 bytes (pytest-xdist's tmp_path is too deep for it)."""
    folder = Path(tempfile.mkdtemp(prefix="rdd-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_demo_serves_a_living_inbox_and_cleans_up(short_tmp: Path) -> None:
    tmp_path = short_tmp
    port = free_port()
    env = clean_env(TMPDIR=str(tmp_path))
    proc = subprocess.Popen(
        [sys.executable, "-m", "replydesk", "demo", "--port", str(port), "--rate", "4"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        shown = _announcement(proc)
        base = f"http://127.0.0.1:{port}"
        assert shown["inbox"] == f"{base}/login"
        with httpx.Client(base_url=base, timeout=10) as http:
            resp = http.post(
                "/api/v1/auth/login", json={"email": shown["e-mail"], "password": shown["password"]}
            )
            assert resp.status_code == 200, resp.text
            (membership,) = http.get("/api/v1/me").json()["workspaces"]
            ws = f"/api/v1/workspaces/{membership['id']}"

            def categories() -> set[str]:
                items = http.get(f"{ws}/leads", params={"limit": 100}).json()["items"]
                return {lead["category"] for lead in items if lead.get("category")}

            seen = _poll(categories, lambda c: {"out_of_office", "unsubscribe"} <= c, 30)
            # Every category of the opening set, out-of-office and unsubscribe among them.
            assert {"interested", "out_of_office", "unsubscribe", "not_interested"} <= seen, seen

            def health() -> dict[str, str]:
                items = http.get(f"{ws}/integrations").json()["items"]
                return {i["provider"]: i["status"] for i in items}

            statuses = _poll(health, lambda h: "unknown" not in h.values(), CATEGORY_BUDGET_S)
            assert statuses["unipile"] == "disconnected", statuses
            assert statuses["emailbison"] == statuses["ghl"] == "ok", statuses
            page = http.get(f"/w/{membership['id']}/inbox")
            assert page.status_code == 200
            assert "Unipile is disconnected" in page.text
            # The stream keeps coming.
            before = http.get(f"{ws}/leads", params={"limit": 100}).json()["items"]
            grown = _poll(
                lambda: http.get(f"{ws}/leads", params={"limit": 100}).json()["items"],
                lambda items: len(items) > len(before),
                CATEGORY_BUDGET_S,
            )
            assert len(grown) > len(before)
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
    assert code == 0
    # Its database stopped and its folder deleted (pgserver's own lock folder, runtime-UID,
    # is shared by every embedded server and stays).
    assert list(tmp_path.glob("replydesk-demo-*")) == []
    left = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, check=False)
    assert left.stdout == b""
