"""One vocabulary: each closed set of words is one StrEnum, and the database refuses the rest.

Migration 0005 writes its value lists out (a migration must not change when an enum does);
these tests hold it, the models' CHECK constraints and the migrated database to the enums.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from enum import StrEnum
from types import ModuleType
from typing import Any, get_args

import asyncpg
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import CheckConstraint, text
from sqlalchemy.exc import DBAPIError

from replydesk.auth.schemas import WorkspaceMembershipOut
from replydesk.auth.vocabulary import Role
from replydesk.automation.sequences.vocabulary import FollowupState, SequenceTrigger, StepStatus
from replydesk.core.db import Database
from replydesk.core.db_errors import sqlstate
from replydesk.core.migrate import alembic_config, downgrade, upgrade
from replydesk.integrations.base import ProviderName
from replydesk.leads.vocabulary import (
    CategorySource,
    Channel,
    Direction,
    LeadCategory,
    LeadEventKind,
    LeadStatus,
    MessageStatus,
    SentBy,
)
from replydesk.models import Base
from replydesk.queue.vocabulary import QueueStatus

CHECK_VIOLATION = "23514"

# (table, column, vocabulary): each has the CHECK ck_<table>_<column>.
VOCABULARY_COLUMNS: tuple[tuple[str, str, type[StrEnum]], ...] = (
    ("leads", "status", LeadStatus),
    ("leads", "last_inbound_channel", Channel),
    ("leads", "category", LeadCategory),
    ("leads", "category_source", CategorySource),
    ("messages", "channel", Channel),
    ("messages", "direction", Direction),
    ("messages", "sent_by", SentBy),
    ("messages", "status", MessageStatus),
    ("lead_channel_quarantines", "channel", Channel),
    ("lead_events", "kind", LeadEventKind),
    ("webhook_events", "status", QueueStatus),
    ("webhook_events", "provider", ProviderName),
    ("jobs", "status", QueueStatus),
    ("memberships", "role", Role),
    ("sequences", "trigger", SequenceTrigger),
    ("followups", "state", FollowupState),
    ("followup_steps", "status", StepStatus),
    ("followup_steps", "channel", Channel),
)
EXPECTED = {
    f"ck_{table}_{column}": tuple(v.value for v in vocabulary)
    for table, column, vocabulary in VOCABULARY_COLUMNS
}

# A valid row of each table, as SQL expressions; the column under test becomes :value.
VALID_ROWS: dict[str, dict[str, str]] = {
    "leads": {"workspace_id": ":ws", "status": "'active'"},
    "messages": {
        "workspace_id": ":ws",
        "lead_id": ":lead",
        "channel": "'email'",
        "direction": "'inbound'",
        "sent_by": "'lead'",
        "occurred_at": "now()",
    },
    "lead_channel_quarantines": {
        "workspace_id": ":ws",
        "lead_id": ":lead",
        "channel": "'linkedin'",
        "reason": "'invalid_recipient'",
    },
    "lead_events": {
        "workspace_id": ":ws",
        "lead_id": ":lead",
        "kind": "'open'",
        "external_id": "'ext-1'",
    },
    "webhook_events": {
        "workspace_id": ":ws",
        "provider": "'emailbison'",
        "event_type": "'LEAD_REPLIED'",
        "status": "'pending'",
        "payload": "'{}'::jsonb",
    },
    "jobs": {"type": "'test.job'", "status": "'pending'", "payload": "'{}'::jsonb"},
    "memberships": {"workspace_id": ":ws", "user_id": ":user", "role": "'member'"},
    "sequences": {
        "workspace_id": ":ws",
        "name": "'Nudge'",
        "trigger": "'manual'",
        "steps": "'[]'::jsonb",
        "enabled": "true",
    },
    # Another sequence than the fixture's enrolment (one enrolment per lead and sequence).
    "followups": {"workspace_id": ":ws", "lead_id": ":lead", "sequence_id": ":other_sequence"},
    "followup_steps": {
        "workspace_id": ":ws",
        "lead_id": ":lead",
        "sequence_id": ":sequence",
        "step": "0",
        "followup_id": ":followup",
        "channel": "'email'",
        "status": "'queued'",
    },
}


def _migration(revision_id: str) -> ModuleType:
    script = ScriptDirectory.from_config(alembic_config("postgresql://unused"))
    revision = script.get_revision(revision_id)
    assert revision is not None
    return revision.module


# Migrations that write CHECK lists, in order: a later one re-creates the constraints it lists.
CHECK_MIGRATIONS = ("0005", "0008", "0010", "0013", "0015", "0016")


def _values_in(definition: str) -> tuple[str, ...]:
    """The quoted values of a CHECK definition, in order (PostgreSQL's or ours)."""
    return tuple(re.findall(r"'([^']*)'", definition))


async def _database_checks(url: str) -> dict[str, tuple[str, ...]]:
    """The vocabulary CHECKs of the database: name → its values, as PostgreSQL has them."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            """
            SELECT c.conname, pg_get_constraintdef(c.oid) AS definition
              FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
             WHERE c.contype = 'c' AND n.nspname = 'public'
            """
        )
        return {r["conname"]: _values_in(r["definition"]) for r in rows if r["conname"] in EXPECTED}
    finally:
        await conn.close()


def _constraint_name(exc: BaseException) -> str | None:
    current: BaseException | None = exc
    while current is not None:
        name = getattr(current, "constraint_name", None)
        if name:
            return str(name)
        current = getattr(current, "orig", None) or current.__cause__
    return None


async def _insert(
    db: Database, table: str, column: str, value: str | None, ids: dict[str, Any]
) -> DBAPIError | None:
    """Insert a valid row of ``table`` with ``column = value``, rolled back; the error or None."""
    row = {**VALID_ROWS[table], column: ":value"}
    sql = f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join(row.values())})"
    params = {k: v for k, v in {**ids, "value": value}.items() if f":{k}" in sql}
    async with db.engine.connect() as conn:
        tx = await conn.begin()
        try:
            await conn.execute(text(sql), params)
        except DBAPIError as exc:
            return exc
        finally:
            await tx.rollback()
    return None


def _near_miss(vocabulary: type[StrEnum]) -> str:
    """The first word in upper case: the CHECK is case-sensitive, like the code."""
    return next(iter(vocabulary)).value.upper()


@pytest.fixture
async def ids(db: Database) -> dict[str, Any]:
    async with db.session() as session:
        ws = (
            await session.execute(
                text(
                    "INSERT INTO workspaces (name, webhook_token_hash) "
                    "VALUES ('Vocabulary', 'x') RETURNING id"
                )
            )
        ).scalar_one()
        user = (
            await session.execute(
                text("INSERT INTO users (email) VALUES (:email) RETURNING id"),
                {"email": f"{uuid.uuid4().hex}@vocabulary.example"},
            )
        ).scalar_one()
        lead = (
            await session.execute(
                text("INSERT INTO leads (workspace_id) VALUES (:ws) RETURNING id"), {"ws": ws}
            )
        ).scalar_one()
        sequences = [
            (
                await session.execute(
                    text(
                        "INSERT INTO sequences (workspace_id, name, trigger, steps, enabled) "
                        "VALUES (:ws, 'S', 'manual', '[]'::jsonb, true) RETURNING id"
                    ),
                    {"ws": ws},
                )
            ).scalar_one()
            for _ in range(2)
        ]
        followup = (
            await session.execute(
                text(
                    "INSERT INTO followups (workspace_id, lead_id, sequence_id) "
                    "VALUES (:ws, :lead, :sequence) RETURNING id"
                ),
                {"ws": ws, "lead": lead, "sequence": sequences[0]},
            )
        ).scalar_one()
    return {
        "ws": ws,
        "user": user,
        "lead": lead,
        "sequence": sequences[0],
        "other_sequence": sequences[1],
        "followup": followup,
    }


async def test_every_check_refuses_words_outside_its_vocabulary(
    db: Database, ids: dict[str, Any]
) -> None:
    for table, column, vocabulary in VOCABULARY_COLUMNS:
        for value in vocabulary:
            error = await _insert(db, table, column, value.value, ids)
            assert error is None, f"{table}.{column} = {value.value!r} refused: {error}"
        for bad in ("not-a-word", _near_miss(vocabulary), ""):
            error = await _insert(db, table, column, bad, ids)
            assert error is not None, f"{table}.{column} = {bad!r} accepted"
            assert sqlstate(error) == CHECK_VIOLATION, error
            assert _constraint_name(error) == f"ck_{table}_{column}"
    # "Channel or NULL": a lead without an inbound message has no channel.
    assert await _insert(db, "leads", "last_inbound_channel", None, ids) is None


def test_migration_lists_equal_the_enums() -> None:
    written: dict[str, tuple[str, ...]] = {}
    for revision_id in CHECK_MIGRATIONS:
        written |= {
            f"ck_{table}_{column}": tuple(values)
            for table, checks in _migration(revision_id).CHECKS.items()
            for column, values in checks
        }
    assert written == EXPECTED


def test_models_declare_the_same_checks() -> None:
    declared = {
        constraint.name: _values_in(str(constraint.sqltext))
        for table in Base.metadata.tables.values()
        for constraint in table.constraints
        if isinstance(constraint, CheckConstraint) and constraint.name in EXPECTED
    }
    assert declared == EXPECTED


def test_auth_schema_literal_spells_the_roles() -> None:
    """The role stays a Literal in the auth schemas (an enum would change their OpenAPI)."""
    annotation = WorkspaceMembershipOut.model_fields["role"].annotation
    assert get_args(annotation) == tuple(role.value for role in Role)


def test_migrated_database_has_the_checks(database_url: str) -> None:
    assert asyncio.run(_database_checks(database_url)) == EXPECTED


def test_downgrade_removes_the_checks_and_upgrade_restores_them(database_url: str) -> None:
    downgrade(database_url, "0004")
    assert asyncio.run(_database_checks(database_url)) == {}
    upgrade(database_url)
    assert asyncio.run(_database_checks(database_url)) == EXPECTED
