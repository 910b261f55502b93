"""Database URLs, engines and the unit-of-work helper."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cache
from typing import ClassVar
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry

from replydesk.core.embedded import start_embedded
from replydesk.core.metrics import metrics
from replydesk.core.settings import Settings


def resolve_database_url(settings: Settings) -> str:
    """The libpq URL to use: the configured one or the embedded server's."""
    if settings.database_url:
        return settings.database_url
    return start_embedded(settings.data_dir)


def async_url(url: str) -> str:
    """``postgresql://`` → ``postgresql+asyncpg://`` (SQLAlchemy's asyncpg dialect)."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme in ("postgres", "postgresql"):
        return urlunsplit(parts._replace(scheme="postgresql+asyncpg"))
    raise ValueError(f"unsupported database URL scheme {parts.scheme!r}: PostgreSQL only")


def plain_url(url: str) -> str:
    """The libpq form (for asyncpg.connect and external tools)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme="postgresql"))


def with_database(url: str, database: str) -> str:
    """The same server URL pointing at another database name."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


class _TimedPool(AsyncAdaptedQueuePool):
    """The async queue pool, observing how long each checkout takes (waiting for a free
    connection, or opening a new one) and counting checkouts that time out."""

    metrics_name: ClassVar[str] = "replydesk"

    def _do_get(self) -> ConnectionPoolEntry:
        started = time.perf_counter()
        try:
            return super()._do_get()
        except PoolTimeout:
            metrics().db_pool_timeouts.labels(self.metrics_name).inc()
            raise
        finally:
            metrics().db_pool_wait.labels(self.metrics_name).observe(time.perf_counter() - started)


@cache
def _timed_pool(name: str) -> type[_TimedPool]:
    # A class per name, not an instance attribute: dispose() recreates the pool from its class.
    # SQLAlchemy names a pool's logger after its class's module: keep it under "sqlalchemy"
    # (quiet at warning unless asked), as the stock pool is.
    attrs = {"metrics_name": name, "__module__": "sqlalchemy.pool.impl"}
    return type(f"TimedPool_{name.replace('-', '_')}", (_TimedPool,), attrs)


def make_engine(
    url: str,
    *,
    pool_size: int,
    max_overflow: int,
    pool_timeout_s: float,
    connect_timeout_s: float,
    statement_timeout_ms: int,
    application_name: str = "replydesk",
    synchronous_commit: bool = True,
) -> AsyncEngine:
    return create_async_engine(
        async_url(url),
        poolclass=_timed_pool(application_name),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout_s,
        pool_recycle=1800,
        pool_pre_ping=False,
        connect_args={
            "timeout": connect_timeout_s,
            # Client-side guard in addition to the server's statement_timeout.
            "command_timeout": statement_timeout_ms / 1000 + 1,
            "server_settings": {
                "statement_timeout": str(statement_timeout_ms),
                "application_name": application_name,
                "idle_in_transaction_session_timeout": "60000",
                "synchronous_commit": "on" if synchronous_commit else "off",
            },
        },
    )


@dataclass
class Database:
    """Engines of one process: the main pool and the small ingestion pool."""

    url: str
    engine: AsyncEngine
    ingest_engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]

    @classmethod
    def from_settings(cls, settings: Settings, url: str | None = None) -> Database:
        url = url or resolve_database_url(settings)
        engine = make_engine(
            url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout_s=settings.db_pool_timeout_s,
            connect_timeout_s=settings.db_connect_timeout_s,
            statement_timeout_ms=settings.db_statement_timeout_ms,
        )
        ingest_engine = make_engine(
            url,
            pool_size=settings.ingest_pool_size,
            max_overflow=0,
            pool_timeout_s=settings.ingest_pool_timeout_s,
            connect_timeout_s=min(settings.db_connect_timeout_s, settings.ingest_budget_s / 2),
            statement_timeout_ms=settings.ingest_statement_timeout_ms,
            application_name="replydesk-ingest",
        )
        return cls(
            url=url,
            engine=engine,
            ingest_engine=ingest_engine,
            sessionmaker=async_sessionmaker(engine, expire_on_commit=False),
        )

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: committed when the block succeeds, rolled back otherwise."""
        async with self.sessionmaker() as session, session.begin():
            yield session

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.begin() as conn:
            yield conn

    async def dispose(self) -> None:
        await self.engine.dispose()
        await self.ingest_engine.dispose()
