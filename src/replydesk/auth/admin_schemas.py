"""Request and response bodies of the administration API (``auth.admin_endpoints``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from replydesk.auth.passwords import MAX_PASSWORD_LENGTH
from replydesk.auth.schemas import WorkspaceMembershipOut

RoleName = Literal["owner", "admin", "member"]


class WorkspaceList(BaseModel):
    items: list[WorkspaceMembershipOut] = Field(
        description="Workspaces the caller belongs to, with its role (an API token: its one "
        "workspace)."
    )


class MemberOut(BaseModel):
    user_id: uuid.UUID
    email: str
    display_name: str | None
    role: RoleName
    created_at: datetime = Field(description="Member since.")


class MemberList(BaseModel):
    items: list[MemberOut]


class RoleChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: RoleName


class InvitationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=320)
    role: RoleName = "member"


class InvitationOut(BaseModel):
    invitation_id: int
    email: str
    role: RoleName
    expires_at: datetime
    token: str = Field(
        description="Shown once. The invitee accepts with POST /api/v1/invitations/accept; "
        "deliver it as a link (e-mail is not sent by ReplyDesk)."
    )


class InvitationAccept(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=200)
    password: str = Field(
        min_length=1,
        max_length=MAX_PASSWORD_LENGTH,
        description="The new account's password; an existing account's own password.",
    )
    display_name: str | None = Field(default=None, max_length=200)


class InvitationAccepted(BaseModel):
    workspace_id: uuid.UUID
    user_id: uuid.UUID
    email: str
    role: RoleName
    created_user: bool


class TokenOut(BaseModel):
    token_id: int
    name: str
    user_id: uuid.UUID
    email: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenList(BaseModel):
    items: list[TokenOut]


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)


class TokenCreatedOut(BaseModel):
    token_id: int
    name: str
    user_id: uuid.UUID
    token: str = Field(description="Shown once; only its sha256 is stored.")


class TokenRevoked(BaseModel):
    token_id: int
    revoked_at: datetime


class WebhookTokenRotated(BaseModel):
    webhook_token: str = Field(description="Shown once; only its sha256 is stored.")
    previous_valid_until: datetime = Field(
        description="The token before this one keeps working until then "
        "(REPLYDESK_WEBHOOK_TOKEN_GRACE_S)."
    )


class IdentitySettingsOut(BaseModel):
    """How the workspace's events are read for a person's identities (docs/inbox.md)."""

    default_phone_region: str = Field(
        description="ISO 3166 region for phone numbers written without + or 00, e.g. US."
    )
    phone_variables: list[str] = Field(
        description="EmailBison lead fields / custom variables that carry a phone number."
    )
    linkedin_variables: list[str] = Field(
        description="EmailBison lead fields / custom variables that carry a LinkedIn URL."
    )


class IdentitySettingsPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default_phone_region: str | None = Field(default=None, min_length=2, max_length=3)
    phone_variables: list[str] | None = Field(default=None, max_length=20)
    linkedin_variables: list[str] | None = Field(default=None, max_length=20)
