from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, Text, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from replydesk.core.base import Base, created_at_column

# Defaults of the identity settings (server defaults, as SQL array literals).
DEFAULT_PHONE_VARIABLES = "ARRAY['phone', 'mobile', 'phone_number', 'mobile_phone']::text[]"
DEFAULT_LINKEDIN_VARIABLES = "ARRAY['linkedin', 'linkedin_url', 'linkedin_profile']::text[]"


class Workspace(Base):
    """A client workspace (tenant). Every other row hangs off one."""

    __tablename__ = "workspaces"

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )
    name: Mapped[str] = mapped_column(Text, nullable=False)
    # sha256 of the webhook token; the token itself is shown once and never stored.
    webhook_token_hash: Mapped[str] = mapped_column(Text, nullable=False)
    # After a rotation the previous token keeps working until previous_webhook_token_expires_at
    # (webhook_token_grace_s), so providers can be reconfigured without losing deliveries.
    previous_webhook_token_hash: Mapped[str | None] = mapped_column(Text)
    previous_webhook_token_expires_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True)
    )
    # Provider scoping: which provider tenant feeds this workspace.
    emailbison_instance_url: Mapped[str | None] = mapped_column(Text)
    emailbison_workspace_id: Mapped[int | None] = mapped_column(BigInteger)
    ghl_location_id: Mapped[str | None] = mapped_column(Text)
    # PEM public keys; when one is set, unsigned GHL webhooks are rejected.
    ghl_rsa_public_key: Mapped[str | None] = mapped_column(Text)
    ghl_ed25519_public_key: Mapped[str | None] = mapped_column(Text)
    unipile_account_id: Mapped[str | None] = mapped_column(Text)
    # The connected LinkedIn account's own provider id: messages it sent are outbound.
    unipile_account_provider_id: Mapped[str | None] = mapped_column(Text)
    # Identity matching (leads.identity): the region a phone number without "+" is read in,
    # and which EmailBison custom variables carry a phone number or a LinkedIn profile URL.
    default_phone_region: Mapped[str] = mapped_column(Text, nullable=False, server_default="US")
    phone_variables: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, server_default=text(DEFAULT_PHONE_VARIABLES)
    )
    linkedin_variables: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, server_default=text(DEFAULT_LINKEDIN_VARIABLES)
    )
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        # Routing lookups by provider scope (admin tooling, reconciliation).
        Index("ix_workspaces_ghl_location_id", "ghl_location_id"),
        Index("ix_workspaces_unipile_account_id", "unipile_account_id"),
    )
