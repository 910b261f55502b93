"""The report as a rich table, Markdown or JSON."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

from replydesk.triage.service import Report

TOP_PATHS = 15
TOP_SIGNATURES = 20


def to_json(report: Report) -> str:
    return json.dumps(report.as_json(), indent=2, ensure_ascii=False)


def _paths_text(paths: list[dict[str, Any]], limit: int = 3) -> str:
    return ", ".join(
        f"{p['method'] or ''} {p['path']} ({p['count']})".strip() for p in paths[:limit]
    )


def _statuses_text(statuses: dict[str, int]) -> str:
    return ", ".join(f"{code}: {count}" for code, count in sorted(statuses.items()))


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _heading(report: Report) -> str:
    start, end = report.window
    return f"{report.rows:,} rows, {start or '—'} → {end or '—'}"


def print_table(report: Report, console: Console) -> None:
    console.print(f"[bold]Triage[/bold]: {_heading(report)}")
    categories = Table(title="Categories", show_lines=False)
    for name in ("priority", "category", "count", "first seen", "last seen", "peak minute"):
        categories.add_column(name, justify="right" if name == "count" else "left")
    categories.add_column("statuses")
    categories.add_column("paths")
    categories.add_column("action", overflow="fold")
    for name, c in report.categories.items():
        categories.add_row(
            c["priority"],
            name,
            f"{c['count']:,}",
            c["first_seen"] or "",
            c["last_seen"] or "",
            f"{c['peak_minute']} ({c['peak_count']})" if c["peak_minute"] else "",
            _statuses_text(c["status_counts"]),
            _paths_text(c["paths"]),
            c["action"],
        )
    console.print(categories)
    paths = Table(title="Paths")
    for name in ("method", "path", "count", "statuses", "p50 ms", "p95 ms"):
        paths.add_column(name, justify="right" if name in ("count", "p50 ms", "p95 ms") else "left")
    for p in report.paths[:TOP_PATHS]:
        paths.add_row(
            p["method"] or "",
            p["path"],
            f"{p['count']:,}",
            _statuses_text(p["status_counts"]),
            _ms(p["p50_ms"]),
            _ms(p["p95_ms"]),
        )
    console.print(paths)
    signatures = Table(title="Signatures")
    for name in ("count", "category", "signature"):
        signatures.add_column(name, justify="right" if name == "count" else "left", overflow="fold")
    for s in report.signatures[:TOP_SIGNATURES]:
        signatures.add_row(f"{s['count']:,}", s["category"], s["signature"])
    console.print(signatures)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(report: Report) -> str:
    lines = [f"# Triage: {_heading(report)}", "", "## Categories", ""]
    lines += [
        "| priority | category | count | first seen | last seen | peak minute | statuses | paths "
        "| action |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, c in report.categories.items():
        peak = f"{c['peak_minute']} ({c['peak_count']})" if c["peak_minute"] else ""
        lines.append(
            f"| {c['priority']} | `{name}` | {c['count']} | {c['first_seen'] or ''} | "
            f"{c['last_seen'] or ''} | {peak} | {_statuses_text(c['status_counts'])} | "
            f"{_cell(_paths_text(c['paths']))} | {_cell(c['action'])} |"
        )
    lines += ["", "## Paths", "", "| method | path | count | statuses | p50 ms | p95 ms |"]
    lines.append("|---|---|---|---|---|---|")
    for p in report.paths[:TOP_PATHS]:
        lines.append(
            f"| {p['method'] or ''} | `{_cell(p['path'])}` | {p['count']} | "
            f"{_statuses_text(p['status_counts'])} | {_ms(p['p50_ms'])} | {_ms(p['p95_ms'])} |"
        )
    lines += ["", "## Signatures", "", "| count | category | signature | example |"]
    lines.append("|---|---|---|---|")
    for s in report.signatures[:TOP_SIGNATURES]:
        lines.append(
            f"| {s['count']} | `{s['category']}` | {_cell(s['signature'])} | "
            f"{_cell(s['example'])[:160]} |"
        )
    if report.malformed_total:
        lines += ["", f"## Malformed rows ({report.malformed_total})", ""]
        lines += [f"- {m.source}:{m.line}: {m.error}" for m in report.malformed]
    return "\n".join(lines) + "\n"
