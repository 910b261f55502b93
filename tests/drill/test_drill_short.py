"""The incident drill, short and without faults, so consistency regressions fail CI.

Timing figures are printed by the drill but deliberately not asserted here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DRILL = ROOT / "bench" / "drill.py"
DOC = ROOT / "docs" / "benchmarks.md"


def test_short_drill_is_consistent(database_url: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPLYDESK_")}
    env["DATABASE_URL"] = database_url
    doc_before = DOC.read_bytes()
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
            "--no-record",  # the default now; the old flag must still be accepted
            "--results-dir",
            str(tmp_path),
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
    # GET /metrics of one API process shows every process's series (2 APIs, 2 workers write
    # to one metrics folder): each answered attempt counted once, each event processed once.
    scrapes = summary["metrics"]
    start, burst, drained = scrapes["start"], scrapes["burst"], scrapes["drained"]
    answered = sum(summary["attempts_by_status"].values())
    assert sum(start["ingest_requests"].values()) == 0
    assert sum(burst["ingest_requests"].values()) == answered
    assert burst["ingest_requests"]["accepted"] + burst["ingest_requests"]["duplicate"] >= 1000
    assert drained["webhook_events_processed"].get("succeeded") == 800, drained
    assert drained["webhook_events_depth"].get("pending", 0) == 0
    assert drained["queue_stats_up"] == 1
    # The run's file, no logs left behind (kept only with --keep-logs), nothing tracked changed.
    (result,) = tmp_path.iterdir()
    assert result.name.startswith("drill-") and result.suffix == ".json"
    assert json.loads(result.read_text()) == summary
    assert summary["logs"] is None
    assert DOC.read_bytes() == doc_before


def test_one_process_drill_with_a_hanging_ai_is_consistent(
    database_url: str, tmp_path: Path
) -> None:
    """`serve` with its worker child, every process on the simulator's AI, which hangs until
    the events are processed: nothing lost, and the replies' AI calls were made."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPLYDESK_")}
    env["DATABASE_URL"] = database_url
    args = ["--one-process", "--ai", "hang", "--events", "400", "--leads", "100"]
    proc = subprocess.run(
        [sys.executable, str(DRILL), *args, "--concurrency", "8", "--results-dir", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.stdout, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    assert summary["consistency"]["ok"], summary["consistency"]
    assert summary["mode"] == "ai-hang" and summary["shape"]["one_process"] is True
    assert summary["non_2xx_final"] == 0 and summary["distinct_events"] == 320
    assert summary["ai_responses_calls"] > 0
    assert set(summary["peak_rss_mb"]) == {"api", "worker"}  # the worker is serve's child
    assert sum(w["answers"] for w in summary["ingest_by_10s"]) == sum(
        summary["attempts_by_status"].values()
    )
    assert proc.returncode == 0
