"""The drill proxy: forwards, delays, blackholes and drops, against a local echo server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import asyncpg
import pytest

from replydesk.devtools.tcp_proxy import TcpProxy, pg_target, url_via_proxy


@pytest.fixture
async def echo() -> AsyncIterator[int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(1024):
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    yield int(server.sockets[0].getsockname()[1])
    server.close()


async def _roundtrip(port: int, data: bytes = b"ping", timeout: float = 5.0) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.readexactly(len(data)), timeout)
    finally:
        writer.close()


async def test_forward_latency_blackhole_drop_resume(echo: int) -> None:
    async with TcpProxy(("127.0.0.1", echo)) as proxy:
        assert await _roundtrip(proxy.port) == b"ping"

        proxy.latency_s = 0.1
        started = time.monotonic()
        assert await _roundtrip(proxy.port) == b"ping"
        assert 0.2 <= time.monotonic() - started < 1.0  # both directions delayed
        proxy.latency_s = 0

        # An open connection stops moving data, and new ones hang.
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"a")
        assert await reader.readexactly(1) == b"a"
        proxy.blackhole()
        writer.write(b"b")
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(reader.readexactly(1), 0.3)
        with pytest.raises(TimeoutError):
            await _roundtrip(proxy.port, timeout=0.3)

        proxy.resume()  # connections that lost data are closed; new ones work
        assert await reader.read(10) == b""
        writer.close()
        assert await _roundtrip(proxy.port) == b"ping"

        proxy.drop()
        with pytest.raises((asyncio.IncompleteReadError, ConnectionError)):
            await _roundtrip(proxy.port)
        proxy.resume()
        assert await _roundtrip(proxy.port) == b"ping"


async def test_postgres_through_the_proxy(database_url: str) -> None:
    async with TcpProxy(pg_target(database_url)) as proxy:
        conn = await asyncpg.connect(url_via_proxy(database_url, "127.0.0.1", proxy.port))
        try:
            assert await conn.fetchval("SELECT 41 + 1") == 42
        finally:
            await conn.close()


def test_url_helpers() -> None:
    assert pg_target("postgresql://postgres:@/postgres?host=/run/x/pg") == "/run/x/pg/.s.PGSQL.5432"
    assert pg_target("postgresql://u:p@db.example:6543/app") == ("db.example", 6543)
    assert url_via_proxy("postgresql://postgres:@/postgres?host=/run/x/pg", "127.0.0.1", 9) == (
        "postgresql://postgres:@127.0.0.1:9/postgres"
    )
    assert url_via_proxy("postgresql://u:p@db:5432/app?sslmode=disable", "h", 1) == (
        "postgresql://u:p@h:1/app?sslmode=disable"
    )
