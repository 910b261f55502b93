"""The composition root: the one place that knows every domain and wires them together.

- ``routers()``: every HTTP router (each domain's ``endpoints.router``).
- ``build_registry()``: every queue handler (each domain's ``jobs.register``).
- ``periodic_tasks()``: every scheduled task (each domain's ``tasks.periodic_tasks``).
- ``create_app()``: the FastAPI app; its lifespan builds the services requests use (the
  database, the ingestor, the counts cache) and, when asked, an in-process worker.
- ``run_worker()``: a worker process (``replydesk worker``).

``core/`` and ``queue/`` import no domain; a new feature adds its line here and nowhere else
(import-linter contracts in pyproject.toml keep it so).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from prometheus_client.core import Metric

from replydesk.auth import admin_endpoints as auth_admin_endpoints
from replydesk.auth import endpoints as auth_endpoints
from replydesk.auth import tasks as auth_tasks
from replydesk.auth import unlock_endpoints
from replydesk.automation import drafts as automation_drafts
from replydesk.automation import endpoints as automation_endpoints
from replydesk.automation import jobs as automation_jobs
from replydesk.automation.sequences import endpoints as sequence_endpoints
from replydesk.automation.sequences import jobs as sequence_jobs
from replydesk.automation.sequences import tasks as sequence_tasks
from replydesk.core import health, metrics_endpoint
from replydesk.core.crypto import KeyRing
from replydesk.core.db import Database
from replydesk.core.http import new_api
from replydesk.core.settings import Settings, get_settings
from replydesk.inbox import endpoints as inbox_endpoints
from replydesk.inbox import merge_endpoints, notes_endpoints, tags_endpoints, timeline_endpoints
from replydesk.inbox import tasks as inbox_tasks
from replydesk.inbox.counts import CountsCache
from replydesk.ingest import endpoints as ingest_endpoints
from replydesk.ingest.service import Ingestor
from replydesk.integrations import jobs as integration_jobs
from replydesk.integrations.alerts import jobs as alert_jobs
from replydesk.integrations.alerts import tasks as alert_tasks
from replydesk.integrations.credentials import endpoints as credential_endpoints
from replydesk.integrations.credentials import jobs as credential_jobs
from replydesk.integrations.credentials import tasks as credential_tasks
from replydesk.integrations.outbound import endpoints as reply_endpoints
from replydesk.integrations.outbound import jobs as reply_jobs
from replydesk.integrations.outbound import service as reply_service
from replydesk.integrations.providers import PROVIDERS
from replydesk.integrations.sync import endpoints as sync_endpoints
from replydesk.integrations.sync import jobs as sync_jobs
from replydesk.integrations.sync import tasks as sync_tasks
from replydesk.leads import tasks as lead_tasks
from replydesk.queue import tasks as queue_tasks
from replydesk.queue.metrics import queue_families
from replydesk.queue.registry import Registry
from replydesk.queue.scheduler import PeriodicTask
from replydesk.queue.worker import Worker, worker_database
from replydesk.web import (
    admin_pages,
    draft_pages,
    followup_pages,
    inbox_pages,
    lead_pages,
    pages,
    sequence_pages,
)
from replydesk.web.first_run import FirstRun

# A manual reply supersedes the lead's pending drafts, and is refused when an approved draft
# answered the message already (at most one send per inbound message, docs/automation.md).
reply_service.on_manual_reply(automation_drafts.answered_by_hand)


def routers() -> list[APIRouter]:
    return [
        health.router,
        metrics_endpoint.router,
        ingest_endpoints.router,
        auth_endpoints.router,
        auth_admin_endpoints.router,
        unlock_endpoints.router,
        inbox_endpoints.router,
        credential_endpoints.router,
        timeline_endpoints.router,
        notes_endpoints.router,
        tags_endpoints.router,
        merge_endpoints.router,
        # The operator pages (docs/web.md): HTML, outside the OpenAPI schema.
        pages.router,
        inbox_pages.router,
        lead_pages.router,
        draft_pages.router,
        followup_pages.router,
        sequence_pages.router,
        admin_pages.router,
        reply_endpoints.router,
        sync_endpoints.router,
        automation_endpoints.router,
        sequence_endpoints.router,
    ]


def build_registry(settings: Settings | None = None, db: Database | None = None) -> Registry:
    """Every queue handler the application has. Handlers that read the database before
    their transaction (health checks) need the worker's ``db``; without it they are left out."""
    settings = settings or get_settings()
    registry = Registry()
    integration_jobs.register(registry)
    sequence_jobs.register(registry)
    automation_jobs.register(registry, settings, db)
    credential_jobs.register(registry, settings, db)
    reply_jobs.register(registry, settings, db)
    alert_jobs.register(registry, settings, db)
    sync_jobs.register(registry, settings, db)
    return registry


def periodic_tasks(settings: Settings) -> list[PeriodicTask]:
    """Every periodic task the application has."""
    return [
        *queue_tasks.periodic_tasks(settings),
        *credential_tasks.periodic_tasks(settings),
        *auth_tasks.periodic_tasks(settings),
        *alert_tasks.periodic_tasks(settings),
        *sync_tasks.periodic_tasks(settings),
        *lead_tasks.periodic_tasks(settings),
        *inbox_tasks.periodic_tasks(settings),
        *sequence_tasks.periodic_tasks(settings),
    ]


def build_worker(db: Database, settings: Settings, **options: Any) -> Worker:
    registry = options.pop("registry", None) or build_registry(settings, db)
    return Worker(db, registry, settings, tasks=periodic_tasks(settings), **options)


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    worker: bool = False,
    first_run: FirstRun | None = None,
) -> FastAPI:
    """Build the app. Tests pass their own ``database``; otherwise the lifespan creates one.
    ``worker=True`` runs a queue worker in-process (``replydesk serve``), on its own pool.
    ``first_run``: the one-time setup link ``replydesk serve`` made for an instance without
    users (``web/first_run.py``); without it the setup page is a 404."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = database or Database.from_settings(settings)
        app.state.db = db
        app.state.ingestor = Ingestor(db, settings, PROVIDERS)
        await app.state.ingestor.start()  # the outage spool and its replay task
        # A rotated webhook token takes effect at once in this process (admin endpoint).
        app.state.forget_webhook_auth = app.state.ingestor.cache.invalidate
        app.state.inbox_counts_cache = CountsCache()
        # The embedded mode creates its key file here, on first start.
        app.state.keyring = KeyRing.from_settings(settings)
        app.state.first_run = first_run or FirstRun()

        async def queue_figures() -> list[Metric]:
            return await queue_families(db, settings)

        # Figures GET /metrics reads at scrape time (bounded queries).
        app.state.metrics_sources = [queue_figures]
        try:
            if worker:
                async with _in_process_worker(db, settings):
                    yield
            else:
                yield
        finally:
            await app.state.ingestor.close()
            if database is None:
                await db.dispose()

    # Webhooks read their bodies with ingestion's own limits (ingest/body.py), and are served
    # as a direct route (core/direct.py): the hot path skips FastAPI's router.
    app = new_api(
        settings,
        lifespan,
        own_body_limits=("/webhooks/",),
        direct_routes=(ingest_endpoints.WEBHOOK,),
    )
    for router in routers():
        app.include_router(router)
    return app


@asynccontextmanager
async def _in_process_worker(db: Database, settings: Settings) -> AsyncIterator[None]:
    """The worker of ``replydesk serve``: its own small pool, stopped gracefully at shutdown."""
    worker_db = worker_database(settings, db.url)
    stopping = asyncio.Event()
    task = asyncio.create_task(build_worker(worker_db, settings).run(stopping))
    try:
        yield
    finally:
        stopping.set()
        try:
            await asyncio.wait_for(task, timeout=settings.worker_shutdown_grace_s + 5)
        finally:
            await worker_db.dispose()


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
        await build_worker(db, settings, registry=registry, concurrency=concurrency).run(stopping)
    finally:
        await db.dispose()
