"""Test PostgreSQL: TEST_DATABASE_URL or an embedded server, a migrated template, clones."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from replydesk.core.db import plain_url, with_database
from replydesk.core.embedded import start_embedded, stop_embedded
from replydesk.core.migrate import MIGRATIONS_DIR, upgrade

TEMPLATE_LOCK_KEY = 7_251_901_002

# Folders of the embedded servers server_url() started; cleanup() stops and deletes them.
_embedded_dirs: list[Path] = []


def server_url() -> str:
    """Admin URL of the server the tests use (maintenance database ``postgres``).

    An embedded server lives in a fresh /tmp/replydesk-test-* folder until cleanup().
    """
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return plain_url(url)
    data_dir = Path(tempfile.mkdtemp(prefix="replydesk-test-"))
    _embedded_dirs.append(data_dir)
    try:
        return start_embedded(data_dir)
    except BaseException:
        cleanup()
        raise


def pooled_url(database_url: str) -> str | None:
    """``database_url``'s database through the pooler of TEST_DATABASE_POOLER_URL, if set."""
    pooler = os.environ.get("TEST_DATABASE_POOLER_URL")
    if not pooler:
        return None
    return with_database(plain_url(pooler), urlsplit(database_url).path.lstrip("/"))


def cleanup() -> None:
    """Stop the embedded servers server_url() started, then delete their folders."""
    while _embedded_dirs:
        data_dir = _embedded_dirs.pop()
        try:
            stop_embedded(data_dir)
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)


def migrations_fingerprint() -> str:
    digest = hashlib.sha256()
    for path in sorted(MIGRATIONS_DIR.rglob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


async def _admin(url: str) -> Any:
    return await asyncpg.connect(with_database(url, "postgres"))


def ensure_template(url: str) -> str:
    """A migrated template database for the current migrations; built once per change."""
    name = f"rd_tpl_{migrations_fingerprint()}"

    async def build() -> None:
        conn = await _admin(url)
        try:
            await conn.execute("SELECT pg_advisory_lock($1)", TEMPLATE_LOCK_KEY)
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if not exists:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}_build" WITH (FORCE)')
                await conn.execute(f'CREATE DATABASE "{name}_build"')
                await asyncio.to_thread(upgrade, with_database(url, f"{name}_build"))
                await conn.execute(f'ALTER DATABASE "{name}_build" RENAME TO "{name}"')
                await conn.execute(f'ALTER DATABASE "{name}" WITH IS_TEMPLATE true')
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", TEMPLATE_LOCK_KEY)
            await conn.close()

    asyncio.run(build())
    return name


def create_database(url: str, template: str | None = None) -> str:
    """A fresh database (a clone of ``template`` when given); returns its URL."""
    name = f"rd_test_{uuid.uuid4().hex[:16]}"

    async def create() -> None:
        conn = await _admin(url)
        try:
            suffix = f' TEMPLATE "{template}"' if template else ""
            await conn.execute(f'CREATE DATABASE "{name}"{suffix}')
        finally:
            await conn.close()

    asyncio.run(create())
    return with_database(url, name)


def drop_database(database_url: str) -> None:
    name = database_url.rsplit("/", 1)[1].split("?", 1)[0]

    async def drop() -> None:
        conn = await _admin(database_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(drop())
