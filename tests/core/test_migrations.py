from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from replydesk.core.db import async_url
from replydesk.core.migrate import downgrade, upgrade
from replydesk.models import Base
from tests.support import pg


@pytest.fixture
def empty_database_url(pg_url: str) -> Iterator[str]:
    url = pg.create_database(pg_url)
    yield url
    pg.drop_database(url)


async def _tables(url: str) -> set[str]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {r["tablename"] for r in rows}
    finally:
        await conn.close()


def test_upgrade_downgrade_upgrade(empty_database_url: str) -> None:
    upgrade(empty_database_url)
    tables = asyncio.run(_tables(empty_database_url))
    expected = {"workspaces", "users", "memberships", "api_tokens", "leads", "messages"}
    assert expected | {"webhook_events", "jobs", "alembic_version"} <= tables
    downgrade(empty_database_url, "base")
    assert asyncio.run(_tables(empty_database_url)) == {"alembic_version"}
    upgrade(empty_database_url)
    assert expected <= asyncio.run(_tables(empty_database_url))


def test_concurrent_migrations_are_serialised(empty_database_url: str) -> None:
    """Three processes starting at once: the advisory lock lets one migrate, the rest wait."""
    env = {**os.environ, "DATABASE_URL": empty_database_url}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "replydesk", "migrate"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], results
    assert "workspaces" in asyncio.run(_tables(empty_database_url))


async def test_models_match_migrations(database_url: str) -> None:
    """The SQLAlchemy models and the migrated schema do not drift apart."""
    engine = create_async_engine(async_url(database_url))
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}),
                    Base.metadata,
                )
            )
    finally:
        await engine.dispose()
    assert diff == []
