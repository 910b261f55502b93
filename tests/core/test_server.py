"""The server ``replydesk serve`` runs (``core.server.server_config``), over real sockets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from replydesk.app import create_app
from replydesk.core.db import Database
from replydesk.core.settings import Settings
from tests.support.http import UvicornServer


@asynccontextmanager
async def running(settings: Settings, db: Database, **update: object) -> AsyncIterator[str]:
    configured = settings.model_copy(update=update)
    app = create_app(configured, database=db)
    async with app.router.lifespan_context(app), UvicornServer(app, configured) as server:
        yield server.base_url


async def _bad_logins(base_url: str, count: int) -> list[int]:
    async with httpx.AsyncClient(base_url=base_url) as client:
        statuses = []
        for i in range(count):
            resp = await client.post(
                "/api/v1/auth/login",
                json={"email": f"guess{i}@acme.example", "password": "wrong wrong"},
                headers={"X-Forwarded-For": f"198.51.100.{i + 1}"},
            )
            statuses.append(resp.status_code)
        return statuses


async def test_forwarded_for_cannot_dodge_the_ip_limit_by_default(
    settings: Settings, db: Database
) -> None:
    async with running(settings, db, login_max_attempts_per_ip=3) as url:
        statuses = await _bad_logins(url, 6)
    assert statuses == [401, 401, 401, 429, 429, 429]


async def test_forwarded_for_is_read_from_a_configured_proxy_only(
    settings: Settings, db: Database
) -> None:
    async with running(
        settings, db, login_max_attempts_per_ip=3, trusted_proxies="127.0.0.1"
    ) as url:
        # Each request comes "from" another client behind the trusted proxy.
        assert await _bad_logins(url, 6) == [401] * 6
    async with running(
        settings, db, login_max_attempts_per_ip=3, trusted_proxies="10.0.0.0/8, 192.0.2.1"
    ) as url:
        # The loopback peer is not one of the proxies: its header is ignored.
        assert (await _bad_logins(url, 4))[-1] == 429


def test_trusted_proxies_must_be_addresses() -> None:
    with pytest.raises(ValueError, match="not an IP address"):
        Settings(trusted_proxies="127.0.0.1, proxy.internal")


async def _connect(url: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", int(url.rsplit(":", 1)[1]))


async def _seconds_until_closed(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, trickle: bytes = b""
) -> tuple[float, bytes]:
    """Send ``trickle`` one byte every 0.1 s (a slowloris) until the server hangs up."""
    started = time.monotonic()
    received = b""

    async def drip() -> None:
        for byte in trickle:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.1)

    dripping = asyncio.create_task(drip())
    try:
        while chunk := await asyncio.wait_for(reader.read(65536), 10):
            received += chunk
    except ConnectionResetError:
        pass
    finally:
        dripping.cancel()
    return time.monotonic() - started, received


async def test_a_partial_request_head_is_cut_within_the_header_timeout(
    settings: Settings, db: Database
) -> None:
    async with running(settings, db, http_header_timeout_s=0.5) as url:
        reader, writer = await _connect(url)
        writer.write(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: a\r\n")
        elapsed, received = await _seconds_until_closed(reader, writer)
        writer.close()
        assert 0.4 <= elapsed < 2.0
        assert received == b""
        # Trickling a byte at a time does not restart the clock.
        reader, writer = await _connect(url)
        elapsed, _ = await _seconds_until_closed(
            reader, writer, trickle=b"GET /healthz HTTP/1.1\r\n" * 9
        )
        writer.close()
        assert elapsed < 2.0
        # A silent connection is closed too (no request ever).
        reader, writer = await _connect(url)
        elapsed, _ = await _seconds_until_closed(reader, writer)
        writer.close()
        assert elapsed < 2.0


async def test_a_complete_request_is_answered_and_the_next_head_gets_its_own_clock(
    settings: Settings, db: Database
) -> None:
    async with running(
        settings, db, http_header_timeout_s=0.6, http_keep_alive_timeout_s=30
    ) as url:
        reader, writer = await _connect(url)
        writer.write(b"GET /api/v1/me HTTP/1.1\r\nHost: a\r\n\r\n")
        await writer.drain()
        first = await asyncio.wait_for(reader.readuntil(b"}}"), 5)
        assert first.startswith(b"HTTP/1.1 401")
        # Kept alive, but the next head must arrive within the header timeout as well.
        elapsed, _ = await _seconds_until_closed(reader, writer)
        writer.close()
        assert 0.4 <= elapsed < 2.0


async def test_an_oversized_request_head_is_refused_with_431(
    settings: Settings, db: Database
) -> None:
    async with running(settings, db, http_max_header_bytes=8192) as url:
        reader, writer = await _connect(url)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: a\r\n")
        for _ in range(20):
            writer.write(b"X-Filler: " + b"a" * 1000 + b"\r\n")
        await writer.drain()
        _, received = await _seconds_until_closed(reader, writer)
        writer.close()
        assert received.startswith(b"HTTP/1.1 431")
        assert b'"code":"headers_too_large"' in received
        # A head under the limit is served as usual.
        async with httpx.AsyncClient(base_url=url) as client:
            ok = await client.get("/api/v1/me", headers={"X-Filler": "a" * 4000})
        assert ok.status_code == 401
