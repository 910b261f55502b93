"""lead scores, and one answer per inbound message

- leads: ``score`` (0-100), ``score_reasons`` (jsonb list of short texts), ``scored_at``,
  ``score_source`` (``ai`` | ``heuristic``; free text, like ``verifier_notes``), the inbound
  message the score was computed after (``score_message_id``: an older job never overwrites a
  newer score); ``ix_leads_workspace_id_score_id`` for ``GET leads?sort=score`` (keyset on
  ``(score DESC NULLS LAST, id DESC)`` within a workspace).
- messages: ``answers_message_id``, the inbound message an outbound reply answers; unique
  per workspace among replies that did not fail (``uq_messages_workspace_id_answers_message_id``):
  an approved draft, an auto-send and a manual reply cannot all answer the same inbound message.

Columns and indexes only (0016 is another branch's; the lead rechains at merge).

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("leads", sa.Column("score", sa.SmallInteger(), nullable=True))
    op.add_column(
        "leads", sa.Column("score_reasons", sa.dialects.postgresql.JSONB(), nullable=True)
    )
    op.add_column("leads", sa.Column("scored_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("leads", sa.Column("score_source", sa.Text(), nullable=True))
    op.add_column("leads", sa.Column("score_message_id", sa.BigInteger(), nullable=True))
    op.create_check_constraint(op.f("ck_leads_score"), "leads", "score >= 0 AND score <= 100")
    op.create_index(
        "ix_leads_workspace_id_score_id",
        "leads",
        ["workspace_id", sa.text("score DESC NULLS LAST"), sa.text("id DESC")],
    )
    op.add_column("messages", sa.Column("answers_message_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        op.f("fk_messages_answers_message_id_messages"),
        "messages",
        "messages",
        ["answers_message_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_index(
        "uq_messages_workspace_id_answers_message_id",
        "messages",
        ["workspace_id", "answers_message_id"],
        unique=True,
        postgresql_where=sa.text("answers_message_id IS NOT NULL AND status <> 'failed'"),
    )


def downgrade() -> None:
    op.drop_index("uq_messages_workspace_id_answers_message_id", table_name="messages")
    op.drop_constraint(
        op.f("fk_messages_answers_message_id_messages"), "messages", type_="foreignkey"
    )
    op.drop_column("messages", "answers_message_id")
    op.drop_index("ix_leads_workspace_id_score_id", table_name="leads")
    op.drop_constraint(op.f("ck_leads_score"), "leads", type_="check")
    for column in ("score_message_id", "score_source", "scored_at", "score_reasons", "score"):
        op.drop_column("leads", column)
