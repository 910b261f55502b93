from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Identity, Index, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import BigInteger, DateTime, Integer, Text

from replydesk.auth.vocabulary import Role
from replydesk.core.base import Base, created_at_column, tenant_primary_key
from replydesk.core.sql import sql_values

ROLES = tuple(role.value for role in Role)


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )
    # Stored normalised (trimmed, lower-case) so lookups match case-insensitively.
    email: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    display_name: Mapped[str | None] = mapped_column(Text)
    password_hash: Mapped[str | None] = mapped_column(Text)  # argon2; NULL = no password login
    created_at: Mapped[datetime] = created_at_column()


class Membership(Base):
    __tablename__ = "memberships"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        # "Which workspaces may this user see" (login, /me).
        Index("ix_memberships_user_id", "user_id"),
        CheckConstraint(f"role IN {sql_values(Role)}", name="role"),
    )


class ApiToken(Base):
    """Personal API token, scoped to one workspace, stored as sha256 only."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigInteger, Identity())
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(Text, nullable=False)
    # Unique: a bearer token is looked up by its hash on every API request.
    token_hash: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    created_at: Mapped[datetime] = created_at_column()
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        tenant_primary_key(),
        Index("ix_api_tokens_workspace_id_user_id", "workspace_id", "user_id"),
    )


class Invitation(Base):
    """A one-time link inviting an e-mail address into a workspace with a role.

    The link carries a random token; the row keeps its sha256 only. Accepting it (once,
    before ``expires_at``) creates the user if needed and the membership.
    """

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(BigInteger, Identity())
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    )
    email: Mapped[str] = mapped_column(Text, nullable=False)  # normalised
    role: Mapped[str] = mapped_column(Text, nullable=False)
    # Unique: the accept endpoint looks the invitation up by the hash of its token.
    token_hash: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    invited_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        tenant_primary_key(),
        # A workspace's invitations; the workspaces FK cascade.
        Index("ix_invitations_workspace_id", "workspace_id"),
        CheckConstraint(f"role IN {sql_values(Role)}", name="role"),
    )


class BrowserSession(Base):
    """A signed-in browser: the cookie carries a random token, the row only its sha256."""

    __tablename__ = "browser_sessions"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    # Unique: the session is looked up by the hash of the cookie on every request.
    token_hash: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    # Rotation is two-phase. A due request issues a new cookie whose hash waits here; the
    # current token stays valid until the browser presents the new one (so a new cookie lost
    # with an error response signs nobody out), which promotes it.
    next_token_hash: Mapped[str | None] = mapped_column(Text)
    next_issued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The hash before the last promotion, accepted for a short grace period so requests
    # already in flight with the old cookie are not signed out.
    previous_token_hash: Mapped[str | None] = mapped_column(Text)
    # sha256 of the CSRF token (double-submit: readable cookie + X-CSRF-Token header);
    # unchanged by rotation so a page's copy stays valid.
    csrf_token_hash: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = created_at_column()
    # Last promotion (or creation): the idle timeout counts from here.
    refreshed_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)

    __table_args__ = (
        Index(
            "uq_browser_sessions_next_token_hash",
            "next_token_hash",
            unique=True,
            postgresql_where=text("next_token_hash IS NOT NULL"),
        ),
        Index(
            "uq_browser_sessions_previous_token_hash",
            "previous_token_hash",
            unique=True,
            postgresql_where=text("previous_token_hash IS NOT NULL"),
        ),
        # "Sign out everywhere" and the users FK cascade.
        Index("ix_browser_sessions_user_id", "user_id"),
        # Purging expired rows in small batches.
        Index("ix_browser_sessions_expires_at", "expires_at"),
    )


class LoginThrottle(Base):
    """Login attempts per fixed window, per client IP, per (account, IP) and per account
    (keys are sha256; ``scope`` is an ``auth.vocabulary.ThrottleScope``).

    Incremented with INSERT … ON CONFLICT DO UPDATE … RETURNING, so concurrent attempts
    from any number of processes are counted exactly.
    """

    __tablename__ = "login_throttles"

    scope: Mapped[str] = mapped_column(Text, primary_key=True)  # "ip" | "account"
    key_hash: Mapped[str] = mapped_column(Text, primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")

    __table_args__ = (
        # Purging old windows.
        Index("ix_login_throttles_window_start", "window_start"),
    )
