"""A minimal keep-alive HTTP/1.1 client on asyncio streams.

httpx costs ~1 ms of CPU per request; on a 2-core machine shared with the servers under test
that alone would cap the burst. This client does only what the drill needs: JSON bodies,
Content-Length responses, one connection per worker coroutine, reconnect on failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any

IDLE_REUSE_S = 4.0


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Connection:
    def __init__(self, host: str, port: int, timeout: float = 10.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._last_used = 0.0

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        self._reader = self._writer = None

    async def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        try:
            return await asyncio.wait_for(self._request(method, path, body, headers), self.timeout)
        except BaseException:
            await self.close()
            raise

    async def _request(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str] | None
    ) -> Response:
        # uvicorn closes keep-alive connections idle for 5 s; like real HTTP clients, do not
        # send on one that may already be closed (a provider backing off idles that long).
        if self._writer is not None and time.monotonic() - self._last_used > IDLE_REUSE_S:
            await self.close()
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None and self._writer is not None
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        for key, value in (headers or {}).items():
            lines.append(f"{key}: {value}")
        payload = body or b""
        if body is not None:
            lines.append(f"Content-Length: {len(payload)}")
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)
        head = await self._reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        parsed: dict[str, str] = {}
        for line in header_lines:
            if ":" in line:
                k, v = line.split(":", 1)
                parsed[k.strip().lower()] = v.strip()
        length = int(parsed.get("content-length", "0"))
        data = await self._reader.readexactly(length) if length else b""
        self._last_used = time.monotonic()
        if parsed.get("connection", "").lower() == "close":
            await self.close()
        return Response(status, parsed, data)
