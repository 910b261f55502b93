"""Shared fixtures: a fresh migrated database per test (template clone), app, clients."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from replydesk.app import create_app
from replydesk.core.db import Database
from replydesk.core.logging import configure_logging
from replydesk.core.settings import Settings
from tests.support import pg
from tests.support.budgets import LENIENT, PRODUCTION
from tests.support.logs import LogCapture

# Login throttle windows are fixed and aligned to the epoch (auth/throttle.py): a boundary
# falling between a test's failed attempts and its check reset the counter once (CI, 05:45:00).
# Day-long windows put the only boundary at 00:00 UTC; tests of expiry set their own. (Not
# longer: the throttle retention drops windows that started over a day ago.)
os.environ.setdefault("REPLYDESK_LOGIN_WINDOW_S", "86400")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "production_budgets: the app's shipped ingest budgets (tests/support/budgets.py)"
    )
    # SIGTERM ends the run like Ctrl-C: fixtures are torn down (embedded PostgreSQL stopped,
    # its /tmp/replydesk-test-* folder deleted) instead of the process dying on the spot.
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    pg.cleanup()  # after fixture teardown; a no-op unless a teardown was skipped


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    try:
        yield pg.server_url()
    finally:
        pg.cleanup()


@pytest.fixture(scope="session")
def template_name(pg_url: str) -> str:
    return pg.ensure_template(pg_url)


@pytest.fixture
def database_url(pg_url: str, template_name: str) -> Iterator[str]:
    url = pg.create_database(pg_url, template_name)
    yield url
    pg.drop_database(url)


@pytest.fixture
def settings(database_url: str, tmp_path: Any, request: pytest.FixtureRequest) -> Settings:
    # TEST_DATABASE_POOLER_URL: the app reaches the test database through a transaction-mode
    # pooler (CI runs PgBouncer in front of TEST_DATABASE_URL); fixtures keep the direct URL.
    # The outage spool is off here: tests of the outage answer (503) see it; the spool's own
    # tests (tests/ingest/test_spool.py) turn it on. Ingest budgets: tests/support/budgets.py.
    budgets = PRODUCTION if request.node.get_closest_marker("production_budgets") else LENIENT
    pooled = pg.pooled_url(database_url)
    if pooled is None:
        return Settings(
            database_url=database_url, data_dir=tmp_path / "data", spool_enabled=False, **budgets
        )
    return Settings(
        database_url=pooled,
        database_direct_url=database_url,
        database_pool_mode="transaction",
        data_dir=tmp_path / "data",
        spool_enabled=False,
        **budgets,
    )


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database.from_settings(settings)
    yield database
    await database.dispose()


@pytest.fixture
async def app(settings: Settings, db: Database) -> AsyncIterator[FastAPI]:
    application = create_app(settings, database=db)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def log_capture() -> Iterator[LogCapture]:
    capture = LogCapture()
    configure_logging("debug", stream=capture.stream)
    yield capture
    configure_logging("info")
