"""Log files for triage tests, written with known counts."""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
BURST_MINUTE = "2026-05-04T10:07"
TIMEOUT = "Vercel Runtime Timeout Error: Task timed out after 60 seconds"
COUNTS_TIMEOUT = (
    "Failed to get inbox counts for client {id}: Invalid `prisma.$queryRaw()` invocation:\n"
    "Raw query failed. Code: `57014`. Message: `ERROR: canceling statement due to statement "
    "timeout`"
)
REFRESH = "AuthApiError: Invalid Refresh Token: Refresh Token Not Found refresh_token_not_found"


@dataclass
class Row:
    ts: datetime
    path: str = "/"
    method: str = "GET"
    status: int | None = 200
    duration_ms: float | None = None
    level: str = "info"
    message: str = ""


def incident_rows() -> list[Row]:
    """An incident with known counts (oldest first):
    - 60 webhook 504 timeouts: 45 in the burst minute 10:07, 15 spread over 10:01 to 10:05;
    - 12 counts statement timeouts on POST / (multi-line messages), 10:02 to 10:13;
    - 5 refresh-token errors on GET /auth/login;
    - 100 ordinary POST / requests with durations 1..100 s (p50 50.5 s, p95 95.05 s).
    """
    rows: list[Row] = []
    hook = "/api/webhooks/email"
    for i in range(15):
        rows.append(
            Row(
                T0 + timedelta(minutes=1 + i // 3, seconds=i),
                hook,
                "POST",
                504,
                60_000,
                "error",
                TIMEOUT,
            )
        )
    for i in range(45):
        rows.append(
            Row(T0 + timedelta(minutes=7, seconds=i), hook, "POST", 504, 60_000, "error", TIMEOUT)
        )
    for i in range(12):
        rows.append(
            Row(
                T0 + timedelta(minutes=2 + i, seconds=30),
                "/",
                "POST",
                200,
                None,
                "error",
                COUNTS_TIMEOUT.format(id=f"c{i:04d}aa11bb22cc"),
            )
        )
    for i in range(5):
        rows.append(
            Row(
                T0 + timedelta(minutes=3, seconds=10 * i),
                "/auth/login",
                "GET",
                200,
                None,
                "error",
                REFRESH,
            )
        )
    for i in range(100):
        rows.append(
            Row(
                T0 + timedelta(minutes=i % 14, seconds=50),
                "/",
                "POST",
                200,
                float((i + 1) * 1000),
                "info",
                "",
            )
        )
    return sorted(rows, key=lambda r: r.ts)


HEADER = [
    "TimeUTC",
    "requestPath",
    "requestMethod",
    "responseStatusCode",
    "durationMs",
    "level",
    "message",
]


def csv_text(
    rows: Iterable[Row],
    header: list[str] = HEADER,
    newest_first: bool = True,
    epoch_ms: bool = False,
) -> str:
    """A Vercel runtime-log export of ``rows`` (newest first, like the export)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    ordered = sorted(rows, key=lambda r: r.ts, reverse=newest_first)
    for r in ordered:
        when: Any = int(r.ts.timestamp() * 1000) if epoch_ms else r.ts.strftime("%Y-%m-%d %H:%M:%S")
        writer.writerow(
            [
                when,
                r.path,
                r.method,
                "" if r.status is None else r.status,
                "" if r.duration_ms is None else r.duration_ms,
                r.level,
                r.message,
            ]
        )
    return out.getvalue()


def drain_lines(rows: Iterable[Row]) -> str:
    """Vercel log-drain NDJSON of ``rows``."""
    lines = []
    for i, r in enumerate(rows):
        lines.append(
            json.dumps(
                {
                    "id": f"log{i}",
                    "message": r.message,
                    "timestamp": int(r.ts.timestamp() * 1000),
                    "source": "lambda",
                    "level": r.level,
                    "deploymentId": "dpl_abc",
                    "proxy": {
                        "timestamp": int(r.ts.timestamp() * 1000),
                        "method": r.method,
                        "path": r.path,
                        "statusCode": r.status,
                    },
                }
            )
        )
    return "\n".join(lines) + "\n"


def write(path: Path, text: str, compress: bool = False) -> Path:
    if compress:
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path
