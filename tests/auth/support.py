"""Auth test helpers: workspaces with members, passwords and tokens; an HTTPS test client.

The client talks https://testserver so Secure cookies are stored and sent back.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from replydesk.auth.service import create_api_token, create_workspace, save_user, set_membership
from replydesk.core.db import Database

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Member:
    workspace_id: uuid.UUID
    user_id: uuid.UUID
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def url(self, path: str) -> str:
        return f"/api/v1/workspaces/{self.workspace_id}/{path.lstrip('/')}"


async def new_workspace_owner(db: Database, name: str, email: str) -> Member:
    """A workspace whose owner has a password and the API token made with the workspace."""
    async with db.session() as session:
        created = await create_workspace(session, name, email)
        saved = await save_user(
            session, email, password=PASSWORD, display_name=None, reset_password=True
        )
    return Member(created.workspace_id, saved.user_id, saved.email, created.api_token)


async def add_member(
    db: Database, workspace_id: uuid.UUID, email: str, role: str = "member"
) -> Member:
    async with db.session() as session:
        saved = await save_user(
            session, email, password=PASSWORD, display_name=None, reset_password=True
        )
        await set_membership(session, workspace_id, saved.user_id, role)
        token = await create_api_token(session, workspace_id, email, f"{role} token")
    return Member(workspace_id, saved.user_id, saved.email, token.token)


@asynccontextmanager
async def https_client(
    app: FastAPI, client_ip: str = "203.0.113.7"
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(client_ip, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        yield c


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    """Sign in; returns the CSRF token."""
    resp = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert resp.status_code == 200, resp.text
    csrf: str = resp.json()["csrf_token"]
    return csrf


async def fetch(db: Database, sql: str, **params: Any) -> list[dict[str, Any]]:
    async with db.session() as session:
        return [dict(r) for r in (await session.execute(text(sql), params)).mappings()]


def error_lines(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r.get("level") in ("error", "critical", "exception")]
