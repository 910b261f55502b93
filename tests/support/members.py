"""Workspaces with members: passwords, roles and API tokens."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

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
