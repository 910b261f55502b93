"""Appending the drill's figures to docs/benchmarks.md."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

COLUMNS = (
    "date (UTC)",
    "mode",
    "sent",
    "non-2xx",
    "503s (max ms)",
    "ingest p50/p99 ms",
    "burst s",
    "drain s",
    "ev/s",
    "counts p50/p95 ms",
    "ok",
    "machine",
)
HEADER = (
    "\n## Incident drill (`make drill`)\n\n"
    + "| "
    + " | ".join(COLUMNS)
    + " |\n"
    + "|"
    + "---|" * len(COLUMNS)
    + "\n"
)


def append_row(path: Path, s: dict[str, Any]) -> None:
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if "## Incident drill (`make drill`)" not in text:
        text = text.rstrip("\n") + "\n" + HEADER
    m = s["machine"]
    problems = "; ".join(s["consistency"]["problems"])
    verdict = "yes" if s["consistency"]["ok"] else f"NO: {problems}"
    row = (
        f"| {datetime.now(UTC):%Y-%m-%d %H:%M} | {s['mode']} | {s['events_sent']} | "
        f"{s['non_2xx_final']} | {s['answers_503']} ({s['answer_503_max_ms']}) | "
        f"{s['ingest_p50_ms']}/{s['ingest_p99_ms']} | {s['burst_seconds']} | "
        f"{s['drain_seconds']} | {s['drain_events_per_s']} | "
        f"{s['counts_p50_ms']}/{s['counts_p95_ms']} | "
        f"{verdict} | "
        f"{m['cores']} cores, PostgreSQL {m['postgres']} |\n"
    )
    lines = text.splitlines(keepends=True)
    # Insert after the last row of the drill table (rows start with "| 20").
    start = next(i for i, line in enumerate(lines) if line.startswith("## Incident drill"))
    end = start + 1
    while end < len(lines) and (lines[end].startswith("|") or not lines[end].strip()):
        if lines[end].startswith("|"):
            last = end
        end += 1
    lines.insert(last + 1, row)
    path.write_text("".join(lines))
