"""``replydesk worker``, ``replydesk queue stats|replay`` and the in-process worker of ``serve``."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated

import typer
from fastapi import FastAPI
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from replydesk.cli.common import migrated_url, prepare, run_with_db
from replydesk.core.app import LifespanHook
from replydesk.core.db import Database
from replydesk.core.logging import get_logger
from replydesk.core.settings import Settings
from replydesk.leads import jobs as leads_jobs
from replydesk.queue.registry import Registry
from replydesk.queue.service import count_matching, queue_stats, replay_matching
from replydesk.queue.tables import TABLES
from replydesk.queue.worker import Worker, worker_database

log = get_logger("replydesk.cli.worker")
queue_app = typer.Typer(no_args_is_help=True, help="Inspect and operate the queues.")


def default_registry() -> Registry:
    """Every handler the application has (composition root)."""
    registry = Registry()
    leads_jobs.register(registry)
    return registry


async def run_worker(
    settings: Settings,
    url: str,
    *,
    concurrency: int | None = None,
    registry: Registry | None = None,
) -> None:
    """Run a worker until SIGTERM/SIGINT: stop claiming, finish or release in-flight items."""
    db = worker_database(settings, url, concurrency)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    try:
        worker = Worker(db, registry or default_registry(), settings, concurrency=concurrency)
        await worker.run(stopping)
    finally:
        await db.dispose()


def worker_command(
    concurrency: Annotated[
        int | None,
        typer.Option(help="Transactions in flight per queue table (default: worker_concurrency)."),
    ] = None,
) -> None:
    """Drain webhook_events and jobs until SIGTERM (graceful: in-flight items finish)."""
    settings = prepare()
    url = migrated_url(settings)
    asyncio.run(run_worker(settings, url, concurrency=concurrency))


def worker_hook() -> LifespanHook:
    """The in-process worker of ``replydesk serve``, on its own small pool."""

    async def start(app: FastAPI) -> Callable[[], Awaitable[None]]:
        settings: Settings = app.state.settings
        db = worker_database(settings, app.state.db.url)
        stopping = asyncio.Event()
        task = asyncio.create_task(Worker(db, default_registry(), settings).run(stopping))

        async def stop() -> None:
            stopping.set()
            try:
                await asyncio.wait_for(task, timeout=settings.worker_shutdown_grace_s + 5)
            finally:
                await db.dispose()

        return stop

    return start


@queue_app.command("stats")
def stats_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Counts by status for webhook_events and jobs."""
    settings = prepare("warning")

    async def work(db: Database) -> dict[str, dict[str, object]]:
        async with db.session() as session:
            return await queue_stats(session)

    result = run_with_db(settings, work)
    if as_json:
        typer.echo(json.dumps(result))
        return
    table = Table()
    table.add_column("queue", no_wrap=True)
    for column in result["jobs"]:
        table.add_column(column.replace("oldest_due_pending_s", "oldest due (s)"), justify="right")
    for name, counts in result.items():
        table.add_row(name, *(str(v) for v in counts.values()))
    Console().print(table)


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"not an ISO date or time: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


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
    if table == "all":
        names = [t for t in TABLES if not (provider and t != "webhook_events")]
        names = [t for t in names if not (job_type and t != "jobs")]
    else:
        names = [table]

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
                async with db.session() as session:
                    total = await count_matching(
                        session,
                        table=name,
                        status=status,
                        provider=provider,
                        job_type=job_type,
                        since=since_at,
                    )
                bar = progress.add_task(f"replay {name}", total=total)
                after, count = 0, 0
                while count < total:
                    async with db.session() as session:
                        ids = await replay_matching(
                            session,
                            table=name,
                            status=status,
                            provider=provider,
                            job_type=job_type,
                            since=since_at,
                            after_id=after,
                            limit=chunk,
                        )
                    if not ids:
                        break
                    after, count = ids[-1], count + len(ids)
                    progress.update(bar, completed=count)
                done[name] = count
        return done

    try:
        result = run_with_db(settings, work)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    typer.echo(json.dumps({"replayed": result}))
