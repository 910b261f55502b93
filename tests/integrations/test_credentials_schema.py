"""Migration 0007's value lists (0015 added ``openai``) are the enums, and the database
refuses other words."""

from __future__ import annotations

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from replydesk.core.db import Database
from replydesk.core.migrate import alembic_config
from replydesk.integrations.credentials.vocabulary import STORED_HEALTH, Integration
from tests.support.members import new_workspace_owner


def test_migration_lists_equal_the_enums() -> None:
    script = ScriptDirectory.from_config(alembic_config("postgresql://unused"))
    revision = script.get_revision("0007")
    latest = script.get_revision("0015")
    assert revision is not None and latest is not None
    assert tuple(i.value for i in Integration) == latest.module.NEW_INTEGRATION
    assert latest.module.OLD_INTEGRATION == revision.module.INTEGRATION
    assert tuple(s.value for s in STORED_HEALTH) == revision.module.HEALTH_STATUS


async def _insert(db: Database, sql: str, **params: object) -> None:
    async with db.session() as session:
        await session.execute(text(sql), params)


async def test_checks_refuse_unknown_providers_and_statuses(db: Database) -> None:
    owner = await new_workspace_owner(db, "Acme", "owner@acme.example")
    cred = (
        "INSERT INTO integration_credentials (workspace_id, provider, settings, secret_hint, "
        "secret_ciphertext) VALUES (:ws, :p, '{}', '…', 'x')"
    )
    with pytest.raises(IntegrityError, match="ck_integration_credentials_provider"):
        await _insert(db, cred, ws=owner.workspace_id, p="mailchimp")
    await _insert(db, cred, ws=owner.workspace_id, p="slack")
    health = (
        "INSERT INTO integration_health (workspace_id, provider, status) VALUES (:ws, 'slack', :s)"
    )
    for bad in ("not_configured", "OK", "broken"):
        with pytest.raises(IntegrityError, match="ck_integration_health_status"):
            await _insert(db, health, ws=owner.workspace_id, s=bad)
    # Health without credentials is refused (it hangs off them).
    with pytest.raises(IntegrityError, match="fk_integration_health"):
        await _insert(
            db,
            "INSERT INTO integration_health (workspace_id, provider, status) "
            "VALUES (:ws, 'ghl', 'ok')",
            ws=owner.workspace_id,
        )
