"""Reading database errors: SQLSTATE, "the database is away" (retry later), "this row is bad"."""

from __future__ import annotations

from collections.abc import Iterator

import asyncpg
from sqlalchemy import exc as sa_exc

QUERY_CANCELED = "57014"  # statement_timeout (or a cancel request)
FOREIGN_KEY_VIOLATION = "23503"
UNIQUE_VIOLATION = "23505"

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


def sqlstate(exc: BaseException) -> str | None:
    """PostgreSQL's SQLSTATE of a driver error (``22P05``, ``23503``, ``57014``, ...), read from
    the driver exception SQLAlchemy wraps (or the asyncpg error behind it)."""
    if not isinstance(exc, sa_exc.DBAPIError):
        return None
    orig = exc.orig
    for candidate in (orig, getattr(orig, "__cause__", None)):
        state = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(state, str):
            return state
    return None


def is_bad_row(exc: BaseException) -> bool:
    """The statement failed because of the data (class 22) or a constraint (class 23): the
    connection and the database are fine, retrying the same row fails the same way.

    (SQLAlchemy's asyncpg dialect maps data errors to plain DBAPIError, hence SQLSTATE.)"""
    code = sqlstate(exc)
    return code is not None and code[:2] in ("22", "23")


def is_query_canceled(exc: BaseException) -> bool:
    return sqlstate(exc) == QUERY_CANCELED


def _driver_error(exc: BaseException) -> BaseException | None:
    """The driver's own exception (asyncpg's) behind a SQLAlchemy error, or ``exc`` itself."""
    for err in _chain(exc):
        if type(err).__module__.startswith("asyncpg"):
            return err
    return None


def describe_database_error(exc: BaseException) -> str | None:
    """A database error told without any value: SQLAlchemy's class, the driver's class,
    SQLSTATE and the constraint, table and column names. None for other exceptions.

    The texts of SQLAlchemy and PostgreSQL carry the statement's parameters
    (``[parameters: …]``), the offending key (``DETAIL: Key (email)=(…)``) or the value
    (``invalid input syntax for type integer: "…"``): names, companies, reply text. None of
    that may reach a stored error or a log line, so the text is never used."""
    driver = _driver_error(exc)
    if not isinstance(exc, sa_exc.StatementError) and driver is not exc:
        return None
    parts: list[str] = []
    if driver is not None and driver is not exc:
        parts.append(type(driver).__name__)
    elif driver is None:
        # No driver error (e.g. a refused connection): the first non-SQLAlchemy cause's class.
        causes = [e for e in _chain(exc) if not isinstance(e, sa_exc.SQLAlchemyError)]
        parts.extend(type(e).__name__ for e in causes[:1] if e is not exc)
    state = sqlstate(exc) or getattr(driver, "sqlstate", None)
    if isinstance(state, str):
        parts.append(f"SQLSTATE {state}")
    for label, attr in (("constraint", "constraint_name"), ("table", "table_name"),
                        ("column", "column_name")):  # fmt: skip
        name = getattr(driver, attr, None)
        if isinstance(name, str) and name:
            parts.append(f"{label} {name}")
    detail = f" ({', '.join(parts)})" if parts else ""
    return f"{type(exc).__name__}{detail}"
