"""Tables of integration settings. Owners: ``credentials.repository`` through ``service``
(credentials, health) and ``hosts`` (the allowlist); see docs/architecture.md."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, ForeignKeyConstraint, Integer, Text, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import DateTime

from replydesk.core.base import Base, created_at_column
from replydesk.core.sql import sql_values
from replydesk.integrations.credentials.vocabulary import STORED_HEALTH, Integration


class IntegrationCredential(Base):
    """One integration of one workspace: non-secret settings in clear, the secret part only
    as a Fernet token (``core.crypto``) bound to this workspace and provider."""

    __tablename__ = "integration_credentials"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    provider: Mapped[str] = mapped_column(Text, primary_key=True)
    # base_url, location_id, account_id …: what GET integrations shows.
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    # "…" + the last 4 characters of the secret, what GET shows instead of it.
    secret_hint: Mapped[str] = mapped_column(Text, nullable=False)
    secret_ciphertext: Mapped[str] = mapped_column(Text, nullable=False)
    # Bumped on every PUT: a health check started with older credentials writes nothing.
    version: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )

    __table_args__ = (CheckConstraint(f"provider IN {sql_values(Integration)}", name="provider"),)


class IntegrationHealth(Base):
    """The health of one workspace and provider; removed with its credentials (FK cascade)."""

    __tablename__ = "integration_health"

    workspace_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    provider: Mapped[str] = mapped_column(Text, primary_key=True)
    status: Mapped[str] = mapped_column(Text, nullable=False)
    since: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    last_checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error_category: Mapped[str | None] = mapped_column(Text)
    last_error_message: Mapped[str | None] = mapped_column(Text)
    # Bumped when a check finishes: part of the check job's dedupe key, so a check is
    # deduplicated while pending and a new one can be queued once it is done.
    check_seq: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    # rate_limited: when sends may go again (Retry-After, or the next UTC day).
    limited_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Consecutive provider errors/timeouts of sends; degraded from a threshold, 0 on success.
    failure_streak: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")

    __table_args__ = (
        ForeignKeyConstraint(
            ["workspace_id", "provider"],
            ["integration_credentials.workspace_id", "integration_credentials.provider"],
            ondelete="CASCADE",
        ),
        CheckConstraint(f"provider IN {sql_values(Integration)}", name="provider"),
        CheckConstraint(f"status IN {sql_values(STORED_HEALTH)}", name="status"),
    )


class EmailBisonHost(Base):
    """Instance-level allowlist of EmailBison hosts (``host`` or ``host:port``, lower-case)."""

    __tablename__ = "emailbison_hosts"

    host: Mapped[str] = mapped_column(Text, primary_key=True)
    created_at: Mapped[datetime] = created_at_column()
