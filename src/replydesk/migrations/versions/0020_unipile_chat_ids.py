"""Unipile chat ids: the LinkedIn chat of a lead's LinkedIn identity

- lead_identities.unipile_chat_id (text, NULL): on a ``linkedin_id`` identity, the Unipile
  chat of the message most recently processed for it (a ``message_received`` webhook, a pulled
  history message, or the ``chat_id`` ``POST /api/v1/chats`` answered for our own reply).
  The per-lead sync reads a chat's history by it (``GET /api/v1/chats/{id}/messages``). It
  travels with the identity row through merges and splits. NULL for every other kind and for
  identities no LinkedIn message has been seen for.

Additive: a nullable column without a default (no table rewrite, no backfill).

Revision ID: 0020
Revises: 0019
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("lead_identities", sa.Column("unipile_chat_id", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("lead_identities", "unipile_chat_id")
