from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from replydesk.core.db import Database
from tests.support.http import https_client, login
from tests.support.members import Member, new_workspace_owner

Send = Callable[[str, str, dict[str, Any] | None], Awaitable[httpx.Response]]


@pytest.fixture
async def owner(db: Database) -> Member:
    return await new_workspace_owner(db, "Acme", "sam@acme.example")


@pytest.fixture
async def rival(db: Database) -> Member:
    return await new_workspace_owner(db, "Rival", "lee@rival.example")


@pytest.fixture(params=["token", "session"])
async def as_a(request: pytest.FixtureRequest, app: FastAPI, owner: Member) -> AsyncIterator[Send]:
    """A sender acting as workspace A's owner, by Bearer token or by session cookie (the
    tenant isolation tests)."""
    async with https_client(app) as client:
        headers = dict(owner.headers)
        if request.param == "session":
            csrf = await login(client, owner.email)
            headers = {"X-CSRF-Token": csrf}

        async def send(method: str, path: str, body: dict[str, Any] | None) -> httpx.Response:
            return await client.request(method, path, json=body, headers=headers)

        yield send
