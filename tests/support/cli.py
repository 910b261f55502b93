"""The ``replydesk`` command (and other test processes) run as subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys


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
