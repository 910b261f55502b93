"""The incident drill, short and without faults, so consistency regressions fail CI.

Timing figures are printed by the drill but deliberately not asserted here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

DRILL = Path(__file__).resolve().parents[2] / "bench" / "drill.py"


def test_short_drill_is_consistent(database_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPLYDESK_")}
    env["DATABASE_URL"] = database_url
    proc = subprocess.run(
        [
            sys.executable,
            str(DRILL),
            "--events",
            "1000",
            "--leads",
            "200",
            "--concurrency",
            "16",
            "--drain-timeout",
            "120",
            "--no-record",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.stdout, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    assert summary["consistency"]["ok"], summary["consistency"]
    assert summary["non_2xx_final"] == 0
    assert summary["distinct_events"] == 800
    assert proc.returncode == 0
