"""Telling "the database is away" (retry later: 503) from every other database error."""

from __future__ import annotations

from collections.abc import Iterator

import asyncpg
from sqlalchemy import exc as sa_exc

# SQLSTATE: connection exceptions (08…), shutdown / cannot connect now (57P01 to 57P03),
# too many connections (53300).
_UNAVAILABLE_STATES = ("57P01", "57P02", "57P03", "53300")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__


def is_database_unavailable(exc: BaseException, *, raised_by_database: bool = False) -> bool:
    """Connection-level failures: refused, reset, closed mid-statement, pool exhausted,
    connect timeout, server shutting down.

    ``raised_by_database=True`` accepts only errors SQLAlchemy raised, for callers whose code
    also does other I/O (a handler's own ConnectionError is not the database being away)."""
    if raised_by_database and not isinstance(exc, sa_exc.DBAPIError | sa_exc.TimeoutError):
        return False
    for err in _chain(exc):
        if isinstance(
            err,
            sa_exc.TimeoutError
            | OSError
            | TimeoutError
            | asyncpg.exceptions.InterfaceError
            | asyncpg.exceptions.ConnectionDoesNotExistError
            | asyncpg.exceptions.PostgresConnectionError,
        ):
            return True
        if isinstance(err, sa_exc.DBAPIError) and err.connection_invalidated:
            return True
        state = getattr(err, "sqlstate", None)
        if isinstance(state, str) and (state.startswith("08") or state in _UNAVAILABLE_STATES):
            return True
    return False
