"""Alembic environment: async engine, one advisory lock so concurrent starts migrate once."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from replydesk.core.db import async_url, pooler_connect_args
from replydesk.models import Base

# Any constant shared by every ReplyDesk process; key of pg_advisory_lock.
MIGRATION_LOCK_KEY = 7_251_901_001

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        # Transaction-scoped lock: a second process waits here, then finds nothing to do.
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
        context.run_migrations()


async def _run_async() -> None:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    assert url, "database_url missing"
    # Pooler-safe always: migrations are few statements, and may go through PgBouncer.
    engine = create_async_engine(async_url(url), connect_args=pooler_connect_args())
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_run)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `replydesk migrate`")
asyncio.run(_run_async())
