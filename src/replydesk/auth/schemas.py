"""Request and response bodies of the auth endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from replydesk.auth.passwords import MAX_PASSWORD_LENGTH


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)


class UserOut(BaseModel):
    id: uuid.UUID
    email: str
    display_name: str | None


class WorkspaceMembershipOut(BaseModel):
    id: uuid.UUID
    name: str
    role: Literal["owner", "admin", "member"]


class LoginResponse(BaseModel):
    user: UserOut
    workspaces: list[WorkspaceMembershipOut]
    csrf_token: str = Field(
        description="Send it as X-CSRF-Token on cookie-authenticated POST/PATCH/DELETE; "
        "also set as the readable rd_csrf cookie."
    )
    expires_at: datetime


class AuthInfo(BaseModel):
    kind: Literal["session", "token"]
    expires_at: datetime | None = Field(default=None, description="Sessions only.")
    token_workspace_id: uuid.UUID | None = Field(
        default=None, description="API tokens only: the one workspace the token can read."
    )


class MeResponse(BaseModel):
    user: UserOut
    workspaces: list[WorkspaceMembershipOut]
    auth: AuthInfo


class UnlockResponse(BaseModel):
    user_id: uuid.UUID
    counters_cleared: int = Field(
        description="Login counters deleted (account-wide and per client IP, all windows)."
    )
