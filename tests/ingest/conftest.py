"""Ingestion fixtures: a workspace with its webhook token, the app on a real server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI

from replydesk.core.db import Database
from tests.support.http import UvicornServer
from tests.support.workspaces import Ws, new_workspace


@pytest.fixture
async def ws(db: Database) -> Ws:
    return await new_workspace(db)


@pytest.fixture
async def server(app: FastAPI) -> AsyncIterator[UvicornServer]:
    """The test app on a real uvicorn server on a loopback port (lifespan run by ``app``)."""
    async with UvicornServer(app) as running:
        yield running
