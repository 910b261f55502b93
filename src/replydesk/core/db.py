"""Database URLs, engines and the unit-of-work helper."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import event
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

PoolMode = Literal["session", "transaction"]


def resolve_database_url(settings: Settings) -> str:
    """The libpq URL to use: the configured one or the embedded server's."""
    if settings.database_url:
        return settings.database_url
    return start_embedded(settings.data_dir)


def direct_url(settings: Settings, url: str) -> str:
    """The URL for migrations, advisory locks and LISTEN: the server itself when known."""
    return settings.database_direct_url or url


def listen_url(settings: Settings, url: str) -> str | None:
    """Where LISTEN may run; None behind a transaction-mode pooler with no direct URL (the
    worker then polls)."""
    if settings.database_pool_mode == "session":
        return url
    return settings.database_direct_url


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
    pool_mode: PoolMode = "session",
) -> AsyncEngine:
    session_settings = {
        "statement_timeout": str(statement_timeout_ms),
        "idle_in_transaction_session_timeout": "60000",
        "synchronous_commit": "on" if synchronous_commit else "off",
    }
    connect_args: dict[str, Any] = {
        "timeout": connect_timeout_s,
        # Client-side guard in addition to the server's statement_timeout.
        "command_timeout": statement_timeout_ms / 1000 + 1,
    }
    if pool_mode == "transaction":
        connect_args |= pooler_connect_args()
        # A pooler refuses (PgBouncer) or drops startup parameters other than a few, and a
        # session-level SET would leak to other clients: each transaction sets its own.
        connect_args["server_settings"] = {"application_name": application_name}
    else:
        connect_args["server_settings"] = {"application_name": application_name} | session_settings
    engine = create_async_engine(
        async_url(url),
        poolclass=_timed_pool(application_name),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout_s,
        pool_recycle=1800,
        pool_pre_ping=False,
        connect_args=connect_args,
    )
    if pool_mode == "transaction":
        _set_local_on_begin(engine, session_settings)
    return engine


def pooler_connect_args() -> dict[str, Any]:
    """asyncpg arguments for a transaction-mode pooler: no statement cache, and unique names
    so a statement prepared on one server connection never collides with another client's."""
    return {
        "statement_cache_size": 0,
        "prepared_statement_cache_size": 0,
        "prepared_statement_name_func": _unique_statement_name,
    }


def _unique_statement_name() -> str:
    return f"__rd_{uuid.uuid4().hex}__"


def _set_local_on_begin(engine: AsyncEngine, values: dict[str, str]) -> None:
    """``SET LOCAL`` the session settings at the start of every transaction (one round trip;
    transaction mode only). ``set_config(…, true)`` is ``SET LOCAL`` with bind parameters."""
    names = list(values)
    sql = "SELECT " + ", ".join(
        f"set_config('{n}', $%d, true)" % (i + 1) for i, n in enumerate(names)
    )
    args = [values[n] for n in names]

    def on_begin(conn: Any) -> None:
        if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            return  # no transaction to scope them to; the client-side timeout still applies
        conn.exec_driver_sql(sql, tuple(args))

    event.listen(engine.sync_engine, "begin", on_begin)


@dataclass
class Database:
    """Engines of one process: the main pool and the small ingestion pool."""

    url: str
    engine: AsyncEngine
    ingest_engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    pool_mode: PoolMode = "session"
    # The server itself (not the pooler), for LISTEN; None in transaction mode without one.
    listen_url: str | None = None

    def __post_init__(self) -> None:
        if self.listen_url is None and self.pool_mode == "session":
            self.listen_url = self.url

    @property
    def single_statement_options(self) -> dict[str, Any]:
        """Execution options for one-statement units (ingest, queue claims): autocommit saves
        the BEGIN/COMMIT round trips, but behind a transaction-mode pooler a statement outside
        a transaction may have its prepare and its execute routed to different servers."""
        return {} if self.pool_mode == "transaction" else {"isolation_level": "AUTOCOMMIT"}

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
            pool_mode=settings.database_pool_mode,
        )
        ingest_engine = make_engine(
            url,
            pool_size=settings.ingest_pool_size,
            max_overflow=0,
            pool_timeout_s=settings.ingest_pool_timeout_s,
            connect_timeout_s=min(settings.db_connect_timeout_s, settings.ingest_budget_s / 2),
            statement_timeout_ms=settings.ingest_statement_timeout_ms,
            application_name="replydesk-ingest",
            pool_mode=settings.database_pool_mode,
        )
        return cls(
            url=url,
            engine=engine,
            ingest_engine=ingest_engine,
            sessionmaker=async_sessionmaker(engine, expire_on_commit=False),
            pool_mode=settings.database_pool_mode,
            listen_url=listen_url(settings, url),
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
