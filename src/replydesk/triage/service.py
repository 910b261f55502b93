"""Triage: read the inputs into one table, categorise, aggregate into the report.

All the per-row work is SQL over columns (DuckDB, decision 0011): one regex pass turns the
distinct messages into shapes (signature.py); the rules are one CASE over the shapes (a regex
per rule, first match wins); one GROUP BY then counts the rows per category, minute, path,
status and signature into a small table every figure is read from. Python only sees
aggregates. Memory is bounded by DuckDB's ``memory_limit`` (what does not
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
from replydesk.triage.signature import shape_sql, signature_sql
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
# Ids in paths (uuids, numbers, tokens) would make every request its own path: a segment that
# is one becomes ":id" (applied twice: one match consumes the "/" the next segment starts
# with). Query strings (tokens, e-mails) are dropped.
_PATH_ID = (
    r"/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[^/]*\d[^/]{7,}"
    r"|[^/]{7,}\d[^/]*|\d+)(/|$)"
)


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
                "rows": [
                    {"file": m.source, "line": m.line, "error": m.error} for m in self.malformed
                ],
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


def _path_sql(path: str) -> str:
    return f"regexp_replace({path}, {_literal(_PATH_ID)}, '/:id\\2', 'gi')"


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
            # Progress is tracked (for the bar on large inputs) but never printed by DuckDB.
            con.execute("SET enable_progress_bar = true")
            con.execute("SET enable_progress_bar_print = false")
            con.execute("SET progress_bar_time = 0")
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
    # Line numbers of JSON inputs come from insertion order (load_lines); the rest needs no
    # order, and dropping it lets the scan run in parallel with less memory.
    con.execute("SET preserve_insertion_order = false")
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

    # Categories and signatures once per distinct shape (signature.py), then per message.
    _run(
        con,
        f"""CREATE TEMP TABLE log_messages AS
            SELECT message, {shape_sql("message")} AS shape
            FROM (SELECT DISTINCT message FROM raw WHERE message IS NOT NULL)""",
        step("categorising"),
    )
    con.execute(
        f"""CREATE TEMP TABLE shapes AS
            SELECT shape, {category_sql("shape")} AS rule_category,
                   {signature_sql("shape")} AS signature
            FROM (SELECT DISTINCT shape FROM log_messages)"""
    )
    con.execute(
        """CREATE TEMP TABLE categorised AS
           SELECT m.message, s.rule_category, s.signature
           FROM log_messages m JOIN shapes s USING (shape)"""
    )
    con.execute(
        f"""CREATE TEMP TABLE paths AS
            SELECT path, {_path_sql(_path_sql("regexp_replace(path, '[?#].*$', '')"))}
                   AS normalised
            FROM (SELECT DISTINCT path FROM raw WHERE path IS NOT NULL)"""
    )
    known = ", ".join(_literal(c.value) for c in Category)
    problem_levels = ", ".join(_literal(level) for level in _PROBLEM_LEVELS)
    # One pass over the rows: counts per category, minute, path, status and signature. Every
    # figure of the report but the latency quantiles comes from this small table.
    _run(
        con,
        f"""CREATE TEMP TABLE cube AS
            SELECT category, date_trunc('minute', ts) AS minute, method, path, status,
                   signature, count(*) AS n, min(ts) AS first_ts, max(ts) AS last_ts
            FROM (
                SELECT r.ts, r.method, p.normalised AS path, r.status,
                       coalesce(CASE WHEN r.given_category IN ({known})
                                     THEN r.given_category END,
                                c.rule_category,
                                CASE WHEN r.level IN ({problem_levels}) OR r.status >= 500
                                     THEN 'other' END) AS category,
                       c.signature
                FROM raw r
                LEFT JOIN categorised c ON r.message = c.message
                LEFT JOIN paths p ON r.path = p.path
            ) GROUP BY ALL""",
        step("aggregating"),
    )
    latencies = con.execute(
        """SELECT r.method, p.normalised, quantile_cont(r.duration_ms, [0.5, 0.95])
            FROM raw r JOIN paths p ON r.path = p.path
            WHERE r.duration_ms IS NOT NULL GROUP BY ALL"""
    ).fetchall()
    examples = dict(
        con.execute(
            """SELECT coalesce(signature, ''), min(message) FROM categorised GROUP BY 1"""
        ).fetchall()
    )
    for table in ("raw", "log_messages", "shapes", "categorised", "paths"):
        con.execute(f"DROP TABLE {table}")
    return _report(
        con,
        sources,
        malformed,
        malformed_total,
        {(m, p): q for m, p, q in latencies},
        examples,
    )


def _report(
    con: duckdb.DuckDBPyConnection,
    sources: list[Source],
    malformed: list[Malformed],
    malformed_total: int,
    latencies: dict[tuple[str | None, str], list[float]],
    examples: dict[str, str],
) -> Report:
    first = con.execute(
        "SELECT min(first_ts), max(last_ts), coalesce(sum(n), 0) FROM cube"
    ).fetchone()
    assert first is not None
    start, end, rows = first

    timeline: dict[str, dict[str, int]] = {}
    for category, minute, count in con.execute(
        f"""SELECT category, strftime(minute, '{MINUTE}'), sum(n) FROM cube
            WHERE category IS NOT NULL GROUP BY ALL ORDER BY ALL"""
    ).fetchall():
        timeline.setdefault(category, {})[minute] = int(count)

    category_paths: dict[str, list[dict[str, Any]]] = {}
    for category, method, path, count in con.execute(
        f"""SELECT category, method, path, sum(n) AS total FROM cube
            WHERE category IS NOT NULL AND path IS NOT NULL GROUP BY category, method, path
            QUALIFY row_number() OVER (PARTITION BY category ORDER BY total DESC, path, method)
                    <= {CATEGORY_PATHS_SHOWN}
            ORDER BY category, total DESC, path, method"""
    ).fetchall():
        category_paths.setdefault(category, []).append(
            {"method": method, "path": path, "count": int(count)}
        )
    category_statuses: dict[str, dict[str, int]] = {}
    for category, status, count in con.execute(
        """SELECT category, status, sum(n) FROM cube
           WHERE category IS NOT NULL AND status IS NOT NULL GROUP BY ALL ORDER BY ALL"""
    ).fetchall():
        category_statuses.setdefault(category, {})[str(status)] = int(count)

    categories: dict[str, dict[str, Any]] = {}
    for category, count, first_seen, last_seen in con.execute(
        """SELECT category, sum(n), min(first_ts), max(last_ts) FROM cube
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
        """SELECT method, path, status, sum(n) FROM cube
           WHERE path IS NOT NULL AND status IS NOT NULL GROUP BY ALL ORDER BY ALL"""
    ).fetchall():
        statuses.setdefault((method, path), {})[str(status)] = int(count)
    paths = []
    for method, path, count in con.execute(
        f"""SELECT method, path, sum(n) AS total FROM cube WHERE path IS NOT NULL
            GROUP BY method, path ORDER BY total DESC, path, method LIMIT {PATHS_SHOWN}"""
    ).fetchall():
        p50, p95 = latencies.get((method, path)) or (None, None)
        paths.append(
            {
                "method": method,
                "path": path,
                "count": int(count),
                "status_counts": statuses.get((method, path), {}),
                "p50_ms": _ms(p50),
                "p95_ms": _ms(p95),
            }
        )

    signatures = [
        {
            "signature": mask_token_shaped(signature),
            "category": category,
            "count": int(count),
            "example": _example(examples.get(signature)),
        }
        for signature, category, count in con.execute(
            f"""SELECT coalesce(signature, ''), category, sum(n) AS total FROM cube
                WHERE category IS NOT NULL GROUP BY ALL
                ORDER BY total DESC, category, 1 LIMIT {SIGNATURES_SHOWN}"""
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
        inputs=[{"file": s.name, "format": s.format.value, "gzip": s.compressed} for s in sources],
    )


def _ms(value: float | None) -> float | None:
    return None if value is None else round(float(value), 1)


def _example(message: str | None) -> str:
    """An example message as printed: redacted by the logging rules, then shortened."""
    if not message:
        return ""
    text = mask_token_shaped(message)
    return text if len(text) <= EXAMPLE_MAX_CHARS else text[: EXAMPLE_MAX_CHARS - 1] + "…"


def categorise(messages: list[str]) -> list[tuple[str | None, str]]:
    """(rule category, signature) of each message, by the same SQL as a triage run."""
    with connection() as con:
        con.execute("CREATE TEMP TABLE given (i INTEGER, message VARCHAR)")
        con.executemany("INSERT INTO given VALUES (?, ?)", list(enumerate(messages)))
        rows = con.execute(
            f"""SELECT {category_sql("shape")}, {signature_sql("shape")}
                FROM (SELECT i, {shape_sql("message")} AS shape FROM given) ORDER BY i"""
        ).fetchall()
    return [(category, signature) for category, signature in rows]
