"""A loopback HTTP fake of provider APIs for health checks: a real server (uvicorn), a status
and body per path that tests switch, and a log of what it received."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request, Response

from tests.support.http import UvicornServer


@dataclass
class Answer:
    status: int = 200
    body: Any = field(default_factory=lambda: {"data": {}})
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]


class FakeProvider:
    """``answers[path]`` decides the reply (default 200 ``{"data": {}}``)."""

    def __init__(self) -> None:
        self.answers: dict[str, Answer] = {}
        self.requests: list[Received] = []
        self.app = FastAPI()
        self.app.add_api_route(
            "/{path:path}", self._handle, methods=["GET", "POST", "PUT", "DELETE"]
        )
        self.base_url = ""

    def answer(self, path: str, status: int, body: Any = None, **headers: str) -> None:
        self.answers[path] = Answer(status, body if body is not None else {}, headers)

    async def _handle(self, request: Request) -> Response:
        self.requests.append(
            Received(
                request.method, request.url.path, {k.lower(): v for k, v in request.headers.items()}
            )
        )
        answer = self.answers.get(request.url.path, Answer())
        return Response(
            json.dumps(answer.body),
            status_code=answer.status,
            media_type="application/json",
            headers=answer.headers,
        )


@asynccontextmanager
async def running_fake() -> AsyncIterator[FakeProvider]:
    fake = FakeProvider()
    async with UvicornServer(fake.app) as server:
        fake.base_url = server.base_url
        yield fake
