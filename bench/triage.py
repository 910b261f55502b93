"""``replydesk triage`` on a synthetic Vercel runtime-log CSV export.

    python bench/triage.py [--lines 1000000] [--gzip] [--record] [--results-dir DIR]

Writes a CSV of ``--lines`` rows (newest first, some multi-line quoted messages, a burst of
504s in one minute, a few malformed rows) into a scratch folder, runs the CLI on it in a child
process, checks the counts it knows, and prints the pipeline's time (best of ``--repeat``
fresh processes), the whole CLI's wall time (``replydesk triage FILE --format json``) and the
children's peak memory (max RSS). The folder is deleted afterwards.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import random
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common import DOC, add_output_args, scratch_dir, utc_stamp, write_result

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HEADER = (
    "TimeUTC,timestampInMs,requestPath,requestMethod,responseStatusCode,durationMs,level,message"
)
MESSAGES = (
    ("error", 504, "Vercel Runtime Timeout Error: Task timed out after 60 seconds"),
    ("error", 200, "Failed to get inbox counts: canceling statement due to statement timeout"),
    ("error", 200, "AuthApiError: Invalid Refresh Token: refresh_token_not_found"),
    ("error", 200, "Step 3 verifier failed: Error: Request timed out."),
    ("error", 200, "[GHL Contact] Failed to upsert contact in GHL for lead {id}"),
    ("warning", 200, "[SMS Sync] Lead {id} has no GHL contact ID"),
    ("error", 200, "[Unipile] Connection check failed (401): Disconnected account {id}"),
    ("error", 500, "Error: something odd happened for {id}\n    at handler (route.js:12:3)"),
)
PATHS = ("/", "/api/webhooks/email", "/api/cron/followups", "/auth/login", "/api/inbox")


def write_export(path: Path, lines: int, compress: bool, seed: int = 7) -> dict[str, int]:
    """The export, newest first; returns the counts the triage must find."""
    rng = random.Random(seed)
    span_s = 6 * 3600
    burst = START + timedelta(hours=3)
    expected = {"runtime_timeout_burst": 0, "malformed": 0, "rows": 0}
    opener = gzip.open if compress else open
    with opener(path, "wt", encoding="utf-8", newline="") as out:  # type: ignore[operator]
        out.write(HEADER + "\n")
        chunk: list[str] = []
        every = min(100_000, max(lines // 10, 2))
        for i in range(lines):
            if i % every == every // 2:
                chunk.append("not a time,/x,GET,200,1,info,\n")  # malformed: bad time
                expected["malformed"] += 1
                continue
            offset = span_s * (1 - i / lines)  # newest first
            ts = START + timedelta(seconds=offset)
            path_ = PATHS[i % len(PATHS)]
            roll = rng.random()
            if burst <= ts < burst + timedelta(minutes=1) and roll < 0.6:
                level, status, text = MESSAGES[0]
                expected["runtime_timeout_burst"] += 1
                path_ = "/api/webhooks/email"
            elif roll < 0.75:
                level, status, text = "info", 200, ""
            else:
                level, status, text = MESSAGES[rng.randrange(len(MESSAGES))]
            message = text.format(id=f"cl{rng.getrandbits(64):016x}")
            if message:
                message = '"' + message.replace('"', '""') + '"'
            ms = int(ts.timestamp() * 1000)
            chunk.append(
                f"{ts:%Y-%m-%d %H:%M:%S},{ms},{path_},POST,{status},"
                f"{rng.randint(5, 900)},{level},{message}\n"
            )
            expected["rows"] += 1
            if len(chunk) >= 10_000:
                out.write("".join(chunk))
                chunk.clear()
        out.write("".join(chunk))
    return expected


# The pipeline alone in a fresh interpreter: detection, the DuckDB work, the JSON text.
CHILD = """
import json, sys, time
started, cpu = time.perf_counter(), time.process_time()
from replydesk.triage.output import to_json
from replydesk.triage.readers import opened_sources
from replydesk.triage.service import triage
imported, cpu_imported = time.perf_counter(), time.process_time()
with opened_sources(sys.argv[1:]) as sources:
    text = to_json(triage(sources))
done, cpu_done = time.perf_counter(), time.process_time()
sys.stdout.write(json.dumps({"import_s": imported - started, "triage_s": done - imported,
                             "cpu_s": cpu_done - cpu_imported,
                             "report": json.loads(text)}))
"""


def _child(argv: list[str]) -> tuple[float, Any]:
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, check=True, text=True)
    return time.perf_counter() - started, json.loads(done.stdout)


def run(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    export = folder / ("export.csv.gz" if args.gzip else "export.csv")
    expected = write_export(export, args.lines, args.gzip)
    pipeline, cpu, cli_runs = [], [], []
    report: dict[str, Any] = {}
    for _ in range(args.repeat):
        _, out = _child([sys.executable, "-c", CHILD, str(export)])
        pipeline.append(out["triage_s"])
        cpu.append(out["cpu_s"])
        report = out["report"]
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    cli = Path(sys.executable).with_name("replydesk")
    cli_s, cli_report = _child([str(cli), "triage", str(export), "--format", "json"])
    cli_runs.append(cli_s)
    assert cli_report["categories"] == report["categories"]
    burst_minute = (START + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
    timeouts = report["categories"]["runtime_timeout"]
    assert report["rows"] == expected["rows"], (report["rows"], expected)
    assert report["malformed"]["count"] == expected["malformed"], report["malformed"]
    assert timeouts["peak_minute"] == burst_minute, timeouts
    assert report["timeline"]["runtime_timeout"][burst_minute] >= expected["runtime_timeout_burst"]
    return {
        "bench": "triage",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "lines": args.lines,
        "gzip": args.gzip,
        "file_mb": round(export.stat().st_size / 1e6, 1),
        "triage_s": [round(t, 3) for t in pipeline],
        "best_s": round(min(pipeline), 3),
        "cpu_s": round(cpu[pipeline.index(min(pipeline))], 3),
        "cli_s": round(cli_runs[0], 3),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "rows": report["rows"],
        "malformed": report["malformed"]["count"],
        "categories": {k: v["count"] for k, v in report["categories"].items()},
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}",
    }


def markdown(result: dict[str, Any]) -> str:
    return (
        f"\n## Triage of a Vercel CSV export — {result['at']}\n\n"
        f"`bench/triage.py --lines {result['lines']}`{' --gzip' if result['gzip'] else ''}: "
        f"{result['file_mb']} MB; {result['machine']}. *triage* is the pipeline in a fresh "
        "process (format detection, DuckDB scan, categories, signatures, aggregates, JSON text; "
        "imports excluded); *CLI* is `replydesk triage FILE --format json` end to end, "
        "interpreter start and the CLI's imports included; CPU is the best run's process time "
        "(all threads); peak RSS is the largest child's.\n\n"
        "| lines | triage runs (s) | best (s) | its CPU (s) | CLI (s) | peak RSS (MB) | rows "
        "| malformed |\n"
        "|---|---|---|---|---|---|---|---|\n"
        f"| {result['lines']:,} | {', '.join(str(s) for s in result['triage_s'])} | "
        f"{result['best_s']} | {result['cpu_s']} | {result['cli_s']} | {result['peak_rss_mb']} | "
        f"{result['rows']:,} | {result['malformed']} |\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--gzip", action="store_true", help="gzip the export")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the CLI (best is kept)")
    add_output_args(parser)
    args = parser.parse_args()
    stamp = utc_stamp()
    with scratch_dir("replydesk-bench-triage-") as folder:
        result = run(args, folder)
    print(json.dumps(result))
    path = write_result(args.results_dir, "triage", result, stamp)
    print(f"triage: results in {path}", file=sys.stderr)
    if args.record:
        with DOC.open("a", encoding="utf-8") as doc:
            doc.write(markdown(result))
        print(f"triage: section appended to {DOC}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
