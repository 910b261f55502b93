"""Requests uvicorn's parser refuses get a JSON 400 in the error shape, not plain text."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
import uvicorn
from fastapi import FastAPI

from replydesk.core.server import JsonErrorsH11Protocol, JsonErrorsHttpToolsProtocol

BAD_REQUESTS = [
    b"GET /api/v1/me?q=" + b"a" * 200_000 + b" HTTP/1.1\r\nHost: t\r\n\r\n",
    b"POST /api/v1/auth/login HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n{}",
    b"GET / HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n",
]


CASES = [
    *[(JsonErrorsHttpToolsProtocol, raw) for raw in BAD_REQUESTS],
    # h11 stops reading a long URL early; the reset of the unread rest can eat the answer.
    *[(JsonErrorsH11Protocol, raw) for raw in BAD_REQUESTS[1:]],
]


@pytest.mark.parametrize(("protocol", "raw"), CASES)
async def test_malformed_requests_get_a_json_400(
    app: FastAPI, protocol: type[asyncio.Protocol], raw: bytes
) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, lifespan="off", log_config=None, access_log=False, http=protocol)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        reader, writer = await asyncio.open_connection("127.0.0.1", sock.getsockname()[1])
        writer.write(raw)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 5)
        writer.close()
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), answer[:200]
    assert b"content-type: application/json" in head.lower()
    assert b"x-content-type-options: nosniff" in head.lower()
    assert json.loads(body)["error"]["code"] == "bad_request"
