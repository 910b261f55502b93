"""Workspace administration: members, invitations, roles, API tokens of a workspace.

The auth domain owns ``users``, ``memberships``, ``invitations`` and ``api_tokens``; this
module is where admins and owners change them (the API in ``auth.admin_endpoints``, the CLI).

Rules: only an owner may make, change or remove an owner; the last owner of a workspace can
be neither demoted nor removed. The owners' rows are locked (``FOR UPDATE``) before the check,
so two admins demoting the last two owners at once cannot both succeed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.auth.errors import InvalidCredentials
from replydesk.auth.models import ROLES, ApiToken, Invitation, Membership, User
from replydesk.auth.passwords import hash_password, verify_password
from replydesk.auth.service import normalise_email
from replydesk.auth.vocabulary import Role
from replydesk.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from replydesk.core.security import hash_token, new_token


@dataclass(frozen=True)
class MemberInfo:
    user_id: uuid.UUID
    email: str
    display_name: str | None
    role: str
    created_at: datetime  # membership since


async def list_members(session: AsyncSession, workspace_id: uuid.UUID) -> list[MemberInfo]:
    rows = (
        await session.execute(
            select(User.id, User.email, User.display_name, Membership.role, Membership.created_at)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.workspace_id == workspace_id)
            .order_by(User.email)
            .limit(1000)
        )
    ).all()
    return [MemberInfo(*r) for r in rows]


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}, not {role!r}")


def _may_grant(actor_role: str, role: str) -> None:
    if role == Role.OWNER and actor_role != Role.OWNER:
        raise PermissionDenied("only an owner can make someone an owner")


async def _lock_member(
    session: AsyncSession, workspace_id: uuid.UUID, user_id: uuid.UUID
) -> tuple[str, int]:
    """The member's role and the workspace's owner count, with the owners' rows and the
    member's row locked until the transaction ends."""
    owners = (
        await session.execute(
            select(Membership.user_id)
            .where(Membership.workspace_id == workspace_id, Membership.role == Role.OWNER)
            .with_for_update()
        )
    ).all()
    role = (
        await session.execute(
            select(Membership.role)
            .where(Membership.workspace_id == workspace_id, Membership.user_id == user_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if role is None:
        raise NotFound("member not found")
    return role, len(owners)


async def _may_change(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    actor_role: str,
    user_id: uuid.UUID,
    *,
    stays_owner: bool,
) -> str:
    role, owners = await _lock_member(session, workspace_id, user_id)
    if role == Role.OWNER:
        if actor_role != Role.OWNER:
            raise PermissionDenied("only an owner can change or remove an owner")
        if not stays_owner and owners <= 1:
            raise Conflict("the workspace's last owner cannot be demoted or removed")
    return role


async def change_role(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    actor_role: str,
    user_id: uuid.UUID,
    role: str,
) -> MemberInfo:
    _check_role(role)
    _may_grant(actor_role, role)
    await _may_change(session, workspace_id, actor_role, user_id, stays_owner=role == Role.OWNER)
    await session.execute(
        update(Membership)
        .where(Membership.workspace_id == workspace_id, Membership.user_id == user_id)
        .values(role=role)
    )
    return next(m for m in await list_members(session, workspace_id) if m.user_id == user_id)


async def remove_member(
    session: AsyncSession, workspace_id: uuid.UUID, actor_role: str, user_id: uuid.UUID
) -> None:
    """Remove the membership and revoke the member's API tokens of this workspace (so a
    later re-invitation does not bring old tokens back)."""
    await _may_change(session, workspace_id, actor_role, user_id, stays_owner=False)
    await session.execute(
        delete(Membership).where(
            Membership.workspace_id == workspace_id, Membership.user_id == user_id
        )
    )
    await session.execute(
        update(ApiToken)
        .where(
            ApiToken.workspace_id == workspace_id,
            ApiToken.user_id == user_id,
            ApiToken.revoked_at.is_(None),
        )
        .values(revoked_at=func.now())
    )


# --- invitations --------------------------------------------------------------------------


@dataclass(frozen=True)
class InvitationCreated:
    invitation_id: int
    workspace_id: uuid.UUID
    email: str
    role: str
    expires_at: datetime
    token: str  # shown once: the one-time link carries it


async def invite(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    *,
    email: str,
    role: str,
    actor_role: str,
    invited_by: uuid.UUID,
    lifetime_s: int,
) -> InvitationCreated:
    address = normalise_email(email)
    _check_role(role)
    _may_grant(actor_role, role)
    member = (
        await session.execute(
            select(Membership.role)
            .join(User, User.id == Membership.user_id)
            .where(Membership.workspace_id == workspace_id, User.email == address)
        )
    ).scalar_one_or_none()
    if member is not None:
        raise Conflict(f"{address} is already a member (role {member})")
    token = new_token("rdi")
    row = (
        await session.execute(
            pg_insert(Invitation)
            .values(
                workspace_id=workspace_id,
                email=address,
                role=role,
                token_hash=hash_token(token),
                invited_by=invited_by,
                expires_at=func.now() + func.make_interval(0, 0, 0, 0, 0, 0, float(lifetime_s)),
            )
            .returning(Invitation.id, Invitation.expires_at)
        )
    ).one()
    return InvitationCreated(row.id, workspace_id, address, role, row.expires_at, token)


@dataclass(frozen=True)
class InvitationAccepted:
    workspace_id: uuid.UUID
    user_id: uuid.UUID
    email: str
    role: str
    created_user: bool


async def accept_invitation(
    session: AsyncSession, token: str, *, password: str, display_name: str | None
) -> InvitationAccepted:
    """Use the invitation (once, before it expires): the membership is created and, for a
    new account (or one without a password), the password is set. An account that has a
    password must present it: an invitation never replaces someone's password.

    Any failure rolls the transaction back, so the invitation stays usable."""
    used = (
        await session.execute(
            update(Invitation)
            .where(
                Invitation.token_hash == hash_token(token),
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
                Invitation.expires_at > func.now(),
            )
            .values(accepted_at=func.now())
            .returning(Invitation.workspace_id, Invitation.email, Invitation.role)
        )
    ).one_or_none()
    if used is None:
        raise NotFound("invitation not found, already used or expired")
    new_hash = hash_password(password)  # checks the password policy first
    inserted = (
        await session.execute(
            pg_insert(User)
            .values(email=used.email, display_name=display_name, password_hash=new_hash)
            .on_conflict_do_nothing(index_elements=[User.email])
            .returning(User.id)
        )
    ).scalar_one_or_none()
    user_id = inserted
    if user_id is None:
        row = (
            await session.execute(
                select(User.id, User.password_hash)
                .where(User.email == used.email)
                .with_for_update()
            )
        ).one()
        user_id = row.id
        if row.password_hash is None:
            await session.execute(
                update(User).where(User.id == user_id).values(password_hash=new_hash)
            )
        elif not await verify_password(row.password_hash, password):
            raise InvalidCredentials(
                "this account already has a password: accept with that password"
            )
    await session.execute(
        pg_insert(Membership)
        .values(workspace_id=used.workspace_id, user_id=user_id, role=used.role)
        .on_conflict_do_nothing(index_elements=[Membership.workspace_id, Membership.user_id])
    )
    role = (
        await session.execute(
            select(Membership.role).where(
                Membership.workspace_id == used.workspace_id, Membership.user_id == user_id
            )
        )
    ).scalar_one()
    return InvitationAccepted(used.workspace_id, user_id, used.email, role, inserted is not None)
