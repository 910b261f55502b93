"""Input files: format detection, and each format read into one shape of rows.

Every reader is a DuckDB table function over the file (``read_csv``, gzip or not), so a
file is scanned in parallel chunks and never held in Python. The shape every format is read
into (``ROW_COLUMNS``): ``ts`` (TIMESTAMP, UTC), ``method``, ``path``, ``status`` (INTEGER),
``duration_ms`` (DOUBLE), ``level`` (lower case), ``message``, ``given_category`` (a category
the line itself carries, ReplyDesk's ``category``).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from replydesk.triage.vocabulary import InputFormat

GZIP_MAGIC = b"\x1f\x8b"
SNIFF_BYTES = 64 * 1024
# A delimiter that never occurs in JSON text (JSON escapes control characters): each line
# is read as one column.
_LINE_DELIMITER = "\x01"

# Canonical column → accepted header names, lower case, in order of preference.
CSV_COLUMNS: dict[str, tuple[str, ...]] = {
    "time": ("timestampinms", "timeutc", "timestamp", "time", "date"),
    "path": ("requestpath", "path"),
    "method": ("requestmethod", "method"),
    "status": ("responsestatuscode", "statuscode", "status"),
    "duration": ("durationms", "duration"),
    "level": ("level",),
    "message": ("message",),
}

ROW_COLUMNS = (
    "ts",
    "method",
    "path",
    "status",
    "duration_ms",
    "level",
    "message",
    "given_category",
)


class TriageInputError(Exception):
    """An input that cannot be read at all (missing, or no format fits); names the file."""


@dataclass
class Malformed:
    source: str
    line: int
    error: str


@dataclass
class Source:
    name: str  # as given on the command line ("-" for standard input)
    path: Path  # the file read (a spooled copy for standard input)
    format: InputFormat
    compressed: bool
    size: int
    header: list[str] = field(default_factory=list)  # CSV only
    mapping: dict[str, str] = field(default_factory=dict)  # canonical → header name (CSV)
    epoch_time: str | None = None  # "ms" or "s" when the CSV's times are epoch numbers


@contextmanager
def opened_sources(names: list[str]) -> Iterator[list[Source]]:
    """Detect every input's format; ``-`` is standard input, spooled to a temporary file
    (chunk by chunk: memory stays bounded) that is deleted afterwards."""
    with tempfile.TemporaryDirectory(prefix="replydesk-triage-") as tmp:
        sources = []
        for name in names:
            if name == "-":
                path = Path(tmp) / "stdin"
                with path.open("wb") as out:
                    shutil.copyfileobj(sys.stdin.buffer, out, 1024 * 1024)
            else:
                path = Path(name)
                if not path.is_file():
                    raise TriageInputError(f"{name}: no such file")
            sources.append(detect(name, path))
        yield sources


def _open(path: Path) -> tuple[gzip.GzipFile | io.BufferedReader, bool]:
    with path.open("rb") as probe:
        compressed = probe.read(2) == GZIP_MAGIC
    # The caller closes it (``with``).
    raw = gzip.GzipFile(path, "rb") if compressed else path.open("rb")
    return raw, compressed


def detect(name: str, path: Path) -> Source:
    raw, compressed = _open(path)
    try:
        head = raw.read(SNIFF_BYTES)
    except (OSError, EOFError) as exc:
        raise TriageInputError(f"{name}: cannot be read ({exc})") from exc
    finally:
        raw.close()
    size = path.stat().st_size
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    first = next((line for line in text.splitlines() if line.strip()), "")
    if first.lstrip().startswith("{"):
        fmt = _json_format(first)
        if fmt is not None:
            return Source(name, path, fmt, compressed, size)
    else:
        header = next(csv.reader(io.StringIO(first)), [])
        mapping = _csv_mapping(header)
        if "time" in mapping and {"message", "status", "path"} & set(mapping):
            source = Source(name, path, InputFormat.VERCEL_CSV, compressed, size, header, mapping)
            source.epoch_time = _epoch_time(text, header.index(mapping["time"]))
            return source
    shown = first[:80] + ("…" if len(first) > 80 else "")
    raise TriageInputError(
        f"{name}: not a Vercel runtime-log CSV (a time column and a message, status or path "
        f"column), a Vercel log-drain NDJSON file or ReplyDesk JSON log lines; "
        f"first line: {shown!r}"
    )


def _epoch_time(text: str, column: int) -> str | None:
    """Whether the first data row's time is an epoch number (in ms or s), not a text."""
    rows = csv.reader(io.StringIO(text))
    next(rows, None)  # the header
    first = next(rows, None)
    value = first[column].strip() if first and len(first) > column else ""
    if not value.isdigit():
        return None
    return "ms" if int(value) > 10**11 else "s"


def _json_format(line: str) -> InputFormat | None:
    try:
        first = json.loads(line)
    except ValueError:
        return None
    if not isinstance(first, dict):
        return None
    if "event" in first and "timestamp" in first and "message" not in first:
        return InputFormat.REPLYDESK
    if "timestamp" in first and ({"message", "proxy", "source", "deploymentId"} & set(first)):
        return InputFormat.VERCEL_DRAIN
    return None


def _csv_mapping(header: list[str]) -> dict[str, str]:
    by_lower: dict[str, str] = {}
    for column in header:
        by_lower.setdefault(column.strip().lower(), column)
    mapping = {}
    for canonical, names in CSV_COLUMNS.items():
        found = next((by_lower[n] for n in names if n in by_lower), None)
        if found is not None:
            mapping[canonical] = found
    return mapping


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _compression(source: Source) -> str:
    return "gzip" if source.compressed else "none"


def _column_names(header: list[str]) -> list[str]:
    """Header names made unique (DuckDB needs distinct column names)."""
    seen: dict[str, int] = {}
    names = []
    for column in header:
        key = column.lower()
        seen[key] = seen.get(key, 0) + 1
        names.append(column if seen[key] == 1 else f"{column}_{seen[key]}")
    return names


def csv_select(source: Source, index: int) -> str:
    """SELECT of a Vercel CSV export in the row shape; rejected rows (wrong column count, a
    time that is missing or not a time) go to ``rejects_<index>`` with their byte position."""
    names = _column_names(source.header)
    mapping = {k: names[source.header.index(v)] for k, v in source.mapping.items()}
    time_col = mapping["time"]
    epoch = source.epoch_time or ("ms" if time_col.lower() == "timestampinms" else None)
    types = {n: "VARCHAR" for n in names}
    types[time_col] = "BIGINT" if epoch else "TIMESTAMPTZ"
    columns = "{" + ", ".join(f"{_literal(n)}: {_literal(t)}" for n, t in types.items()) + "}"

    def col(canonical: str) -> str:
        name = mapping.get(canonical)
        return f'"{name}"' if name else "NULL"

    if epoch is None:
        ts = f"(\"{time_col}\" AT TIME ZONE 'UTC')"
    else:
        ts = f'make_timestamp("{time_col}" * {1000 if epoch == "ms" else 1_000_000})'

    duration = col("duration")
    duration_ms = (
        f"coalesce(try_cast({duration} AS DOUBLE), "
        f"try_cast(regexp_extract({duration}, '^\\s*([0-9.]+)\\s*ms\\s*$', 1) AS DOUBLE), "
        f"1000 * try_cast(regexp_extract({duration}, '^\\s*([0-9.]+)\\s*s\\s*$', 1) AS DOUBLE))"
        if duration != "NULL"
        else "NULL"
    )
    return f"""
        SELECT {ts} AS ts,
               upper(nullif(trim({col("method")}), '')) AS method,
               nullif(trim({col("path")}), '') AS path,
               try_cast({col("status")} AS INTEGER) AS status,
               {duration_ms} AS duration_ms,
               lower(nullif(trim({col("level")}), '')) AS level,
               nullif({col("message")}, '') AS message,
               NULL::VARCHAR AS given_category
        FROM read_csv({_literal(str(source.path))}, header = true, columns = {columns},
                      delim = ',', quote = '"', escape = '"', auto_detect = false,
                      compression = {_literal(_compression(source))},
                      force_not_null = [{_literal(time_col)}], strict_mode = false,
                      store_rejects = true, rejects_table = 'rejects_{index}',
                      rejects_scan = 'reject_scans_{index}')
    """


def load_lines(con: duckdb.DuckDBPyConnection, source: Source, index: int) -> str:
    """A JSON-lines file as table ``lines_<index>`` (``n`` = line number, ``j`` = the parsed
    line or NULL); returns the table's name."""
    table = f"lines_{index}"
    con.execute(
        f"""
        CREATE TEMP TABLE {table}_raw AS
        SELECT line FROM read_csv({_literal(str(source.path))}, header = false,
                                  columns = {{'line': 'VARCHAR'}},
                                  delim = {_literal(_LINE_DELIMITER)}, quote = '', escape = '',
                                  auto_detect = false, strict_mode = false,
                                  compression = {_literal(_compression(source))})
        """
    )
    # Insertion order is the file's order: rowid + 1 is the line number.
    con.execute(
        f"""
        CREATE TEMP TABLE {table} AS
        SELECT rowid + 1 AS n, line, try_cast(line AS JSON) AS j
        FROM {table}_raw WHERE line IS NOT NULL AND trim(line) <> ''
        """
    )
    con.execute(f"DROP TABLE {table}_raw")
    return table


def _json_ts(expr: str) -> str:
    """A JSON timestamp: epoch milliseconds (or seconds) as a number, or an ISO text."""
    return f"""CASE WHEN json_type({expr}) IN ('UBIGINT', 'BIGINT', 'DOUBLE')
                    THEN make_timestamp(CAST(CASE WHEN CAST({expr} AS DOUBLE) > 1e11
                                                  THEN CAST({expr} AS DOUBLE) * 1000
                                                  ELSE CAST({expr} AS DOUBLE) * 1000000 END
                                             AS BIGINT))
                    ELSE try_cast(({expr} ->> '$') AS TIMESTAMPTZ) AT TIME ZONE 'UTC' END"""


def json_select(source: Source, table: str) -> str:
    """SELECT of a JSON-lines table in the row shape (well-formed lines with a time)."""
    if source.format is InputFormat.REPLYDESK:
        fields = {
            "ts": _json_ts("j -> '$.timestamp'"),
            "method": "upper(j ->> '$.method')",
            "path": "coalesce(j ->> '$.path', j ->> '$.route')",
            "status": "coalesce(try_cast(j ->> '$.status_code' AS INTEGER),"
            " try_cast(j ->> '$.status' AS INTEGER))",
            "duration_ms": "try_cast(j ->> '$.duration_ms' AS DOUBLE)",
            "level": "lower(j ->> '$.level')",
            # The event name and the error class say what happened; values stay out.
            "message": "nullif(concat_ws(' ', j ->> '$.event', j ->> '$.error'), '')",
            "given_category": "j ->> '$.category'",
        }
    else:
        fields = {
            "ts": _json_ts("j -> '$.timestamp'"),
            "method": "upper(coalesce(j ->> '$.proxy.method', j ->> '$.method'))",
            "path": "coalesce(j ->> '$.proxy.path', j ->> '$.path')",
            "status": "coalesce(try_cast(j ->> '$.proxy.statusCode' AS INTEGER),"
            " try_cast(j ->> '$.statusCode' AS INTEGER))",
            "duration_ms": "coalesce(try_cast(j ->> '$.durationMs' AS DOUBLE),"
            " try_cast(j ->> '$.duration' AS DOUBLE))",
            "level": "lower(j ->> '$.level')",
            "message": "nullif(j ->> '$.message', '')",
            "given_category": "NULL::VARCHAR",
        }
    selected = ", ".join(f"{expr} AS {name}" for name, expr in fields.items())
    return f"""
        SELECT {", ".join(ROW_COLUMNS)} FROM (
            SELECT {selected} FROM {table} WHERE json_type(j) = 'OBJECT'
        ) WHERE ts IS NOT NULL
    """


def json_malformed(
    con: duckdb.DuckDBPyConnection, source: Source, table: str, limit: int
) -> tuple[int, list[Malformed]]:
    ts = _json_ts("j -> '$.timestamp'")
    where = f"j IS NULL OR json_type(j) <> 'OBJECT' OR ({ts}) IS NULL"
    total = con.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()
    rows = con.execute(
        f"""SELECT n, CASE WHEN j IS NULL THEN 'not JSON'
                           WHEN json_type(j) <> 'OBJECT' THEN 'not a JSON object'
                           ELSE 'no timestamp' END
            FROM {table} WHERE {where} ORDER BY n LIMIT {int(limit)}"""
    ).fetchall()
    return int(total[0]) if total else 0, [Malformed(source.name, int(n), e) for n, e in rows]


def csv_malformed(
    con: duckdb.DuckDBPyConnection, source: Source, index: int, limit: int
) -> tuple[int, list[Malformed]]:
    """Rejected CSV rows, one per row, with their physical line number (DuckDB counts
    records; a quoted message spanning lines shifts them, so the line is counted from the
    row's byte position)."""
    rows = con.execute(
        f"""SELECT line, min(line_byte_position), first(error_type ORDER BY column_idx),
                   first(error_message ORDER BY column_idx)
            FROM rejects_{index} GROUP BY line ORDER BY line"""
    ).fetchall()
    positions = [int(r[1]) for r in rows[:limit] if r[1] is not None]
    lines = _lines_at(source, positions)
    found = []
    for record, position, kind, message in rows[:limit]:
        line = lines.get(int(position), int(record)) if position is not None else int(record)
        found.append(Malformed(source.name, line, _reject_text(str(kind), str(message))))
    return len(rows), found


def _reject_text(kind: str, message: str) -> str:
    if kind == "CAST":
        column = message.split(". Could not convert")[0].replace("Error when converting ", "")
        return f"unreadable value in {column}".strip(". ")
    return message


def _lines_at(source: Source, positions: list[int]) -> dict[int, int]:
    """Line number (1-based) of each byte position of the (decompressed) file."""
    wanted = sorted(set(positions))
    if not wanted:
        return {}
    raw, _ = _open(source.path)
    found: dict[int, int] = {}
    newlines, offset, i = 0, 0, 0
    with raw:
        while i < len(wanted):
            chunk = raw.read(1024 * 1024)
            if not chunk:
                break
            end = offset + len(chunk)
            while i < len(wanted) and wanted[i] < end:
                found[wanted[i]] = newlines + chunk.count(b"\n", 0, wanted[i] - offset) + 1
                i += 1
            newlines += chunk.count(b"\n")
            offset = end
    return found
