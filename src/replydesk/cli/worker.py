"""``replydesk worker`` and ``replydesk queue stats|replay|discard``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from replydesk.app import run_worker
from replydesk.cli.common import migrated_url, prepare, run_with_db
from replydesk.cli.worker_process import die_with_parent
from replydesk.core.db import Database
from replydesk.core.logging import get_logger
from replydesk.core.metrics import configure_metrics
from replydesk.ingest.spool import spool_stats
from replydesk.ingest.spooling import spool_root
from replydesk.integrations.sync.service import reconcile_totals
from replydesk.queue.queues import TABLES
from replydesk.queue.service import (
    Selection,
    alert_delivery_counts,
    count_matching,
    discard_matching,
    queue_stats,
    replay_matching,
)

log = get_logger("replydesk.cli.worker")
queue_app = typer.Typer(no_args_is_help=True, help="Inspect and operate the queues.")


def worker_command(
    concurrency: Annotated[
        int | None,
        typer.Option(help="Transactions in flight per queue table (default: worker_concurrency)."),
    ] = None,
) -> None:
    """Drain webhook_events and jobs until SIGTERM (graceful: in-flight items finish)."""
    die_with_parent()
    settings = prepare()
    url = migrated_url(settings)
    configure_metrics(settings, "worker")
    asyncio.run(run_worker(settings, url, concurrency=concurrency))


@queue_app.command("stats")
def stats_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Counts by status for webhook_events and jobs; alert deliveries; what EmailBison
    reconciliation recovered (replies no webhook had delivered); this host's outage spool."""
    settings = prepare("warning")

    async def work(db: Database) -> dict[str, dict[str, object]]:
        async with db.session() as session:
            result: dict[str, dict[str, object]] = dict(await queue_stats(session))
            result["alerts"] = dict(await alert_delivery_counts(session))
            result["reconciliation"] = await reconcile_totals(session)
            return result

    result = run_with_db(settings, work)
    # Read from the data folder (docs/ingestion.md, "Outage spool"): no database needed.
    spool = spool_stats(spool_root(settings.data_dir))
    if as_json:
        typer.echo(json.dumps({**result, "spool": spool}))
        return
    table = Table()
    table.add_column("queue", no_wrap=True)
    for column in result["jobs"]:
        table.add_column(column.replace("oldest_due_pending_s", "oldest due (s)"), justify="right")
    for name in TABLES:
        table.add_row(name, *(str(v) for v in result[name].values()))
    console = Console()
    console.print(table)
    alerts = ", ".join(f"{k} {v}" for k, v in result["alerts"].items())
    console.print(f"alerts (Slack delivery): {alerts}")
    rec = result["reconciliation"]
    console.print(
        f"EmailBison reconciliation: {rec['recovered_total']} recovered in {rec['runs']} runs "
        f"over {rec['workspaces']} workspaces (last run {rec['last_run_at'] or 'never'})"
    )
    spooled = Table(title=f"outage spool ({spool_root(settings.data_dir)})")
    for column in spool:
        spooled.add_column(column.replace("_", " "), justify="right")
    spooled.add_row(*(str(v) for v in spool.values()))
    console.print(spooled)


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"not an ISO date or time: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _tables(table: str, provider: str | None, job_type: str | None) -> list[str]:
    if table != "all":
        return [table]
    names = [t for t in TABLES if not (provider and t != "webhook_events")]
    return [t for t in names if not (job_type and t != "jobs")]


ChunkOp = Callable[..., Awaitable[list[int]]]


async def _in_chunks(
    db: Database,
    selection: Selection,
    op: ChunkOp,
    chunk: int,
    *,
    total: int | None = None,
    on_chunk: Callable[[int], object] | None = None,
) -> int:
    """Apply ``op`` (replay or discard) to the selection, ``chunk`` items per transaction, in
    id order; how many items it took (at most ``total`` when given)."""
    after, count = 0, 0
    while total is None or count < total:
        async with db.session() as session:
            ids = await op(session, selection, after_id=after, limit=chunk)
        if not ids:
            break
        after, count = ids[-1], count + len(ids)
        if on_chunk is not None:
            on_chunk(count)
    return count


@queue_app.command("replay")
def replay_command(
    status: Annotated[str, typer.Option(help="Replay items in this status.")] = "dead",
    table: Annotated[str, typer.Option(help="webhook_events, jobs or all.")] = "all",
    provider: Annotated[str | None, typer.Option(help="webhook_events of one provider.")] = None,
    job_type: Annotated[str | None, typer.Option("--type", help="jobs of one type.")] = None,
    since: Annotated[
        str | None, typer.Option(help="Received/created at or after (ISO, UTC if naive).")
    ] = None,
    chunk: Annotated[int, typer.Option(min=1, max=5000, help="Items per transaction.")] = 500,
) -> None:
    """Put matching items back to pending (fresh attempts), with a progress bar."""
    settings = prepare("warning")
    since_at = _since(since)
    names = _tables(table, provider, job_type)

    async def work(db: Database) -> dict[str, int]:
        done: dict[str, int] = {}
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
        ) as progress:
            for name in names:
                selection = Selection(name, status, provider, job_type, since_at)
                async with db.session() as session:
                    total = await count_matching(session, selection)
                bar = progress.add_task(f"replay {name}", total=total)

                def advance(n: int, bar: TaskID = bar) -> None:
                    progress.update(bar, completed=n)

                done[name] = await _in_chunks(
                    db, selection, replay_matching, chunk, total=total, on_chunk=advance
                )
        return done

    try:
        result = run_with_db(settings, work)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    typer.echo(json.dumps({"replayed": result}))


@queue_app.command("discard")
def discard_command(
    table: Annotated[str, typer.Option(help="webhook_events, jobs or all.")] = "all",
    provider: Annotated[str | None, typer.Option(help="webhook_events of one provider.")] = None,
    job_type: Annotated[str | None, typer.Option("--type", help="jobs of one type.")] = None,
    since: Annotated[
        str | None, typer.Option(help="Received/created at or after (ISO, UTC if naive).")
    ] = None,
    chunk: Annotated[int, typer.Option(min=1, max=5000, help="Items per transaction.")] = 500,
) -> None:
    """Delete matching dead items for good (their attempts age out with the attempt history)."""
    settings = prepare("warning")
    since_at = _since(since)
    names = _tables(table, provider, job_type)

    async def work(db: Database) -> dict[str, int]:
        done: dict[str, int] = {}
        for name in names:
            selection = Selection(name, "dead", provider, job_type, since_at)
            done[name] = await _in_chunks(db, selection, discard_matching, chunk)
        return done

    try:
        result = run_with_db(settings, work)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    log.info("queue_discarded", **result)
    typer.echo(json.dumps({"discarded": result}))
