"""``replydesk triage FILE… [--format table|md|json] [--chart PATH.png] [--since ISO]
[--until ISO]``: the incident map of log exports (docs/triage.md). No database."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from replydesk.triage.vocabulary import OutputFormat

PROGRESS_FROM_BYTES = 50 * 1024 * 1024


def register(app: typer.Typer) -> None:
    app.command("triage")(triage_command)


def _instant(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 time", param_hint=option) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def triage_command(
    files: Annotated[
        list[str],
        typer.Argument(
            help="Vercel runtime-log CSV, Vercel log-drain NDJSON or ReplyDesk JSON log files "
            "(gzip accepted; - is standard input).",
            show_default=False,
        ),
    ],
    output: Annotated[
        OutputFormat, typer.Option("--format", help="table (rich), md or json.")
    ] = OutputFormat.TABLE,
    chart: Annotated[
        Path | None, typer.Option("--chart", help="Also draw the per-minute timeline as a PNG.")
    ] = None,
    since: Annotated[str | None, typer.Option(help="Only lines at or after this ISO time.")] = None,
    until: Annotated[
        str | None, typer.Option(help="Only lines at or before this ISO time.")
    ] = None,
) -> None:
    """Categorise the lines of log exports: counts, peaks, paths, signatures, actions."""
    # duckdb and matplotlib load only for this command, not for every CLI start.
    import duckdb
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from replydesk.triage.chart import draw_timeline
    from replydesk.triage.output import print_table, to_json, to_markdown
    from replydesk.triage.readers import TriageInputError, opened_sources
    from replydesk.triage.service import triage

    start, end = _instant(since, "--since"), _instant(until, "--until")
    if files.count("-") > 1:
        raise typer.BadParameter("standard input (-) can be read once", param_hint="FILE")
    err = Console(stderr=True)
    try:
        with opened_sources(files) as sources:
            if sum(s.size for s in sources) > PROGRESS_FROM_BYTES:
                with Progress(
                    TextColumn("{task.description}"),
                    BarColumn(),
                    TextColumn("{task.percentage:>3.0f}%"),
                    TimeElapsedColumn(),
                    console=err,
                    transient=True,
                ) as bar:
                    task = bar.add_task("reading", total=100)

                    def progress(step: str, value: float) -> None:
                        bar.update(task, description=step, completed=value)

                    report = triage(sources, start, end, progress)
            else:
                report = triage(sources, start, end)
    except TriageInputError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except duckdb.Error as exc:  # an input the readers let through but cannot parse at all
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        typer.echo(f"error: the inputs could not be read: {first_line}", err=True)
        raise typer.Exit(2) from None
    for bad in report.malformed:
        typer.echo(f"{bad.source}:{bad.line}: malformed row skipped: {bad.error}", err=True)
    if report.malformed_total > len(report.malformed):
        typer.echo(
            f"… {report.malformed_total} malformed rows skipped in all "
            f"({len(report.malformed)} listed)",
            err=True,
        )
    if output is OutputFormat.JSON:
        sys.stdout.write(to_json(report) + "\n")
    elif output is OutputFormat.MD:
        sys.stdout.write(to_markdown(report))
    else:
        print_table(report, Console())
    if chart is not None:
        draw_timeline(report, chart)
        typer.echo(f"chart: {chart}", err=True)
