"""Triage: read the inputs into one table, categorise, aggregate into the report.

All the per-row work is SQL over columns (DuckDB): categories are one CASE over the distinct
messages (a regex per rule, first match wins), signatures a chain of ``regexp_replace``.
Python only sees aggregates. Memory is bounded by DuckDB's ``memory_limit`` (what does not
fit spills to a temporary directory, removed afterwards).
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from replydesk.core.redact import mask_token_shaped
from replydesk.triage.readers import (
    Malformed,
    Source,
    csv_malformed,
    csv_select,
    json_malformed,
    json_select,
    load_lines,
)
from replydesk.triage.rules import ADVICE, RULES
from replydesk.triage.signature import signature_sql
from replydesk.triage.vocabulary import Category, InputFormat, Priority

MEMORY_LIMIT = "1GB"
MALFORMED_SHOWN = 100  # per input; the total is always counted
PATHS_SHOWN = 100
CATEGORY_PATHS_SHOWN = 10
SIGNATURES_SHOWN = 100
EXAMPLE_MAX_CHARS = 300
MINUTE = "%Y-%m-%dT%H:%M"
PRIORITY_ORDER = {Priority.P0: 0, Priority.P1: 1, Priority.P2: 2}

# Levels at which an uncategorised line is still a problem ("other").
_PROBLEM_LEVELS = ("warning", "warn", "error", "fatal", "critical", "exception")
# Ids in paths (uuids, numbers, tokens) would make every request its own path.
_PATH_ID = r"/(\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[^/]*\d[^/]{7,})"


@dataclass
class Report:
    """The JSON contract of docs/triage.md (``as_json``), plus what the other outputs show."""

    window: tuple[str | None, str | None]
    rows: int
    categories: dict[str, dict[str, Any]]
    timeline: dict[str, dict[str, int]]
    paths: list[dict[str, Any]]
    signatures: list[dict[str, Any]]
    malformed: list[Malformed] = field(default_factory=list)
    malformed_total: int = 0
    inputs: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "window": list(self.window),
            "rows": self.rows,
            "categories": self.categories,
            "timeline": self.timeline,
            "paths": self.paths,
            "signatures": self.signatures,
            "malformed": {
                "count": self.malformed_total,
                "rows": [{"file": m.source, "line": m.line, "error": m.error} for m in self.malformed],
            },
            "inputs": self.inputs,
        }


def iso(ts: datetime | None) -> str | None:
    if ts is None:
        return None
    text = ts.strftime("%Y-%m-%dT%H:%M:%S")
    if ts.microsecond:
        text += f".{ts.microsecond // 1000:03d}"
    return text + "Z"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def category_sql(message: str) -> str:
    """The rules table as one SQL CASE: first matching rule wins."""
    arms = " ".join(
        f"WHEN regexp_matches({message}, {_literal(rule.pattern)}, 'i') "
        f"THEN {_literal(rule.category.value)}"
        for rule in RULES
    )
    return f"CASE {arms} END"


@contextmanager
def connection(threads: int | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    with tempfile.TemporaryDirectory(prefix="replydesk-triage-spill-") as spill:
        con = duckdb.connect(":memory:")
        try:
            con.execute("SET TimeZone = 'UTC'")
            con.execute(f"SET memory_limit = {_literal(MEMORY_LIMIT)}")
            con.execute(f"SET temp_directory = {_literal(spill)}")
            con.execute("SET enable_progress_bar = false")
            if threads:
                con.execute(f"SET threads = {int(threads)}")
            yield con
        finally:
            con.close()


def _run(
    con: duckdb.DuckDBPyConnection, sql: str, progress: Callable[[float], None] | None
) -> None:
    """Execute ``sql``; with ``progress``, report DuckDB's progress of it meanwhile."""
    if progress is None:
        con.execute(sql)
        return
    done = threading.Event()

    def poll() -> None:
        while not done.wait(0.2):
            value = con.query_progress()
            if value >= 0:
                progress(value)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    try:
        con.execute(sql)
    finally:
        done.set()
        watcher.join()


def triage(
    sources: list[Source],
    since: datetime | None = None,
    until: datetime | None = None,
    progress: Callable[[str, float], None] | None = None,
    threads: int | None = None,
) -> Report:
    with connection(threads) as con:
        return _triage(con, sources, since, until, progress)


def _triage(
    con: duckdb.DuckDBPyConnection,
    sources: list[Source],
    since: datetime | None,
    until: datetime | None,
    progress: Callable[[str, float], None] | None,
) -> Report:
    def step(name: str) -> Callable[[float], None] | None:
        return (lambda value: progress(name, value)) if progress else None

    selects = []
    for index, source in enumerate(sources):
        if source.format is InputFormat.VERCEL_CSV:
            selects.append(csv_select(source, index))
        else:
            table = load_lines(con, source, index)
            selects.append(json_select(source, table))
    window = []
    if since is not None:
        window.append(f"ts >= {_literal(since.isoformat())}::TIMESTAMPTZ AT TIME ZONE 'UTC'")
    if until is not None:
        window.append(f"ts <= {_literal(until.isoformat())}::TIMESTAMPTZ AT TIME ZONE 'UTC'")
    where = f"WHERE {' AND '.join(window)}" if window else ""
    union = " UNION ALL ".join(f"({s})" for s in selects)
    _run(con, f"CREATE TEMP TABLE raw AS SELECT * FROM ({union}) {where}", step("reading"))

    malformed: list[Malformed] = []
    malformed_total = 0
    for index, source in enumerate(sources):
        if source.format is InputFormat.VERCEL_CSV:
            count, shown = csv_malformed(con, source, index, MALFORMED_SHOWN)
        else:
            count, shown = json_malformed(con, source, f"lines_{index}", MALFORMED_SHOWN)
            con.execute(f"DROP TABLE lines_{index}")
        malformed_total += count
        malformed.extend(shown)

    # Categories and signatures once per distinct message, then joined back.
    _run(
        con,
        f"""CREATE TEMP TABLE messages AS
            SELECT message, {category_sql("message")} AS rule_category,
                   {signature_sql("message")} AS signature
            FROM (SELECT DISTINCT message FROM raw WHERE message IS NOT NULL)""",
        step("categorising"),
    )
    known = ", ".join(_literal(c.value) for c in Category)
    problem_levels = ", ".join(_literal(level) for level in _PROBLEM_LEVELS)
    _run(
        con,
        f"""CREATE TEMP TABLE events AS
            SELECT r.ts, r.method,
                   regexp_replace(r.path, {_literal(_PATH_ID)}, '/:id', 'gi') AS path,
                   r.status, r.duration_ms, r.message, m.signature,
                   coalesce(CASE WHEN r.given_category IN ({known}) THEN r.given_category END,
                            m.rule_category,
                            CASE WHEN r.level IN ({problem_levels}) OR r.status >= 500
                                 THEN 'other' END) AS category
            FROM raw r LEFT JOIN messages m ON r.message = m.message""",
        step("aggregating"),
    )
    con.execute("DROP TABLE raw")
    con.execute("DROP TABLE messages")
    return _report(con, sources, malformed, malformed_total)


def _report(
    con: duckdb.DuckDBPyConnection,
    sources: list[Source],
    malformed: list[Malformed],
    malformed_total: int,
) -> Report:
    first = con.execute("SELECT min(ts), max(ts), count(*) FROM events").fetchone()
    assert first is not None
    start, end, rows = first

    timeline: dict[str, dict[str, int]] = {}
    for category, minute, count in con.execute(
        f"""SELECT category, strftime(date_trunc('minute', ts), '{MINUTE}') AS minute, count(*)
            FROM events WHERE category IS NOT NULL GROUP BY ALL ORDER BY category, minute"""
    ).fetchall():
        timeline.setdefault(category, {})[minute] = int(count)

    category_paths: dict[str, list[dict[str, Any]]] = {}
    for category, method, path, count in con.execute(
        f"""SELECT category, method, path, count(*) AS n FROM events
            WHERE category IS NOT NULL AND path IS NOT NULL GROUP BY category, method, path
            QUALIFY row_number() OVER (PARTITION BY category ORDER BY n DESC, path, method)
                    <= {CATEGORY_PATHS_SHOWN}
            ORDER BY category, n DESC, path, method"""
    ).fetchall():
        category_paths.setdefault(category, []).append(
            {"method": method, "path": path, "count": int(count)}
        )
    category_statuses: dict[str, dict[str, int]] = {}
    for category, status, count in con.execute(
        """SELECT category, status, count(*) FROM events
           WHERE category IS NOT NULL AND status IS NOT NULL GROUP BY ALL ORDER BY ALL"""
    ).fetchall():
        category_statuses.setdefault(category, {})[str(status)] = int(count)

    categories: dict[str, dict[str, Any]] = {}
    for category, count, first_seen, last_seen in con.execute(
        """SELECT category, count(*), min(ts), max(ts) FROM events
           WHERE category IS NOT NULL GROUP BY category"""
    ).fetchall():
        minutes = timeline.get(category, {})
        peak_minute = min(minutes, key=lambda m: (-minutes[m], m)) if minutes else None
        advice = ADVICE[Category(category)]
        categories[category] = {
            "count": int(count),
            "paths": category_paths.get(category, []),
            "status_counts": category_statuses.get(category, {}),
            "first_seen": iso(first_seen),
            "last_seen": iso(last_seen),
            "peak_minute": peak_minute,
            "peak_count": minutes.get(peak_minute, 0) if peak_minute else 0,
            "priority": advice.priority.value,
            "action": advice.action,
        }
    categories = dict(
        sorted(
            categories.items(),
            key=lambda kv: (PRIORITY_ORDER[Priority(kv[1]["priority"])], -kv[1]["count"], kv[0]),
        )
    )

    statuses: dict[tuple[str | None, str], dict[str, int]] = {}
    for method, path, status, count in con.execute(
        """SELECT method, path, status, count(*) FROM events
           WHERE path IS NOT NULL AND status IS NOT NULL GROUP BY ALL ORDER BY ALL"""
    ).fetchall():
        statuses.setdefault((method, path), {})[str(status)] = int(count)
    paths = [
        {
            "method": method,
            "path": path,
            "count": int(count),
            "status_counts": statuses.get((method, path), {}),
            "p50_ms": _ms(p50),
            "p95_ms": _ms(p95),
        }
        for method, path, count, p50, p95 in con.execute(
            f"""SELECT method, path, count(*) AS n,
                       quantile_cont(duration_ms, 0.5), quantile_cont(duration_ms, 0.95)
                FROM events WHERE path IS NOT NULL GROUP BY method, path
                ORDER BY n DESC, path, method LIMIT {PATHS_SHOWN}"""
        ).fetchall()
    ]

    signatures = [
        {
            "signature": mask_token_shaped(signature),
            "category": category,
            "count": int(count),
            "example": _example(example),
        }
        for signature, category, count, example in con.execute(
            f"""SELECT coalesce(signature, ''), category, count(*) AS n, min(message)
                FROM events WHERE category IS NOT NULL GROUP BY ALL
                ORDER BY n DESC, category, 1 LIMIT {SIGNATURES_SHOWN}"""
        ).fetchall()
    ]
    return Report(
        window=(iso(start), iso(end)),
        rows=int(rows),
        categories=categories,
        timeline=timeline,
        paths=paths,
        signatures=signatures,
        malformed=malformed,
        malformed_total=malformed_total,
        inputs=[
            {"file": s.name, "format": s.format.value, "gzip": s.compressed} for s in sources
        ],
    )


def _ms(value: float | None) -> float | None:
    return None if value is None else round(float(value), 1)


def _example(message: str | None) -> str:
    """An example message as printed: redacted by the logging rules, then shortened."""
    if not message:
        return ""
    text = mask_token_shaped(message)
    return text if len(text) <= EXAMPLE_MAX_CHARS else text[: EXAMPLE_MAX_CHARS - 1] + "…"
