"""Backups of the database with PostgreSQL's own tools: ``pg_dump`` (custom format) and
``pg_restore``.

The embedded server's binaries ship inside the pgserver package; for an external server the
newest ``pg_dump``/``pg_restore`` among the one on PATH and the bundled one is used (pg_dump
must not be older than the server it dumps). The URL reaches the tools through the
environment (``PGPASSWORD`` …) only as the libpq connection string argument, never in a log
line or an error text.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from pathlib import Path

import asyncpg

from replydesk.core.db import plain_url
from replydesk.core.errors import Conflict, InvalidInput, ReplyDeskError


class BackupFailed(ReplyDeskError):
    """pg_dump or pg_restore failed (its stderr, without the connection string)."""


def bundled_bin_dir() -> Path:
    """Where pgserver keeps the binaries of the embedded server."""
    import pgserver

    return Path(pgserver.__file__).parent / "pginstall" / "bin"


def _major(tool: Path) -> int:
    out = subprocess.run(  # noqa: S603 - a PostgreSQL binary we located, fixed arguments
        [str(tool), "--version"], capture_output=True, text=True, timeout=10, check=False
    ).stdout
    found = re.search(r"(\d+)(?:\.\d+)?", out)
    return int(found.group(1)) if found else 0


def find_tool(name: str, *, embedded: bool) -> Path:
    """``pg_dump`` or ``pg_restore``: the bundled one for the embedded server, else the
    newest of PATH's and the bundled one."""
    bundled = bundled_bin_dir() / name
    candidates = [bundled] if bundled.exists() else []
    on_path = shutil.which(name)
    if not embedded and on_path:
        candidates.append(Path(on_path))
    if not candidates:
        raise BackupFailed(f"{name} not found (neither on PATH nor in the pgserver package)")
    return max(candidates, key=_major)


def _run(args: list[str], url: str) -> None:
    # S603: args are a located PostgreSQL binary and our own options (no shell).
    proc = subprocess.run(args, capture_output=True, text=True, check=False)  # noqa: S603
    if proc.returncode != 0:
        # The connection string may be echoed back in an error; never show it.
        text = proc.stderr.replace(url, "<database url>").strip()
        raise BackupFailed(f"{Path(args[0]).name} failed (exit {proc.returncode}): {text[-2000:]}")


def backup(url: str, target: Path, *, embedded: bool) -> int:
    """Dump the database into ``target`` (custom format; written to a side file, then moved
    into place, so an interrupted backup never leaves a truncated file under that name).
    Returns the file's size in bytes."""
    libpq = plain_url(url)
    target = target.resolve()
    partial = target.with_name(target.name + ".partial")
    tool = find_tool("pg_dump", embedded=embedded)
    try:
        _run(
            [str(tool), "--format=custom", "--no-owner", "--no-privileges",
             f"--file={partial}", f"--dbname={libpq}"],
            libpq,
        )  # fmt: skip
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target.stat().st_size


async def user_tables(url: str) -> int:
    """How many tables the database has outside the system schemas."""
    conn = await asyncpg.connect(plain_url(url))
    try:
        count = await conn.fetchval(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p') "
            "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
            "AND n.nspname NOT LIKE 'pg_toast%'"
        )
        return int(count)
    finally:
        await conn.close()


async def _empty_public_schema(url: str) -> None:
    conn = await asyncpg.connect(plain_url(url))
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()


async def restore(url: str, source: Path, *, embedded: bool, force: bool) -> None:
    """Restore ``source`` (a ``backup`` file) into the database, in one transaction.

    Refuses a database that has any table unless ``force``; with ``force`` the public schema
    is dropped first (everything in it is lost)."""
    if not await asyncio.to_thread(source.is_file):
        raise InvalidInput(f"no such backup file: {source}")
    tables = await user_tables(url)
    if tables and not force:
        raise Conflict(
            f"the database is not empty ({tables} tables); restore with --force to replace it"
        )
    if tables:
        await _empty_public_schema(url)
    libpq = plain_url(url)
    tool = find_tool("pg_restore", embedded=embedded)
    _run(
        [str(tool), "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error",
         f"--dbname={libpq}", str(source)],
        libpq,
    )  # fmt: skip
