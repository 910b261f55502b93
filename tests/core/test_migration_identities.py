"""Migration 0009 backfills the identities of existing leads and their messages."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import asyncpg
import pytest

from replydesk.core.migrate import upgrade
from tests.support import pg


@pytest.fixture
def empty_database_url(pg_url: str) -> Iterator[str]:
    url = pg.create_database(pg_url)
    yield url
    pg.drop_database(url)


async def _seed_and_read(url: str, stage: str) -> list[tuple[str, str, str]]:
    conn = await asyncpg.connect(url)
    try:
        if stage == "seed":
            ws = await conn.fetchval(
                "INSERT INTO workspaces (name, webhook_token_hash) VALUES ('A', 'h') RETURNING id"
            )
            lead = await conn.fetchval(
                "INSERT INTO leads (workspace_id, email, phone_e164, linkedin_provider_id, "
                "linkedin_profile_url, ghl_contact_id, emailbison_lead_id) VALUES ($1, "
                "'dana@northwind.example', '+15125550143', 'ACoAAB1', "
                "'https://www.LinkedIn.com/in/Dana-Reyes/?x=1', 'ct_1', 501) RETURNING id",
                ws,
            )
            for channel in ("email", "sms", "linkedin"):
                await conn.execute(
                    "INSERT INTO messages (workspace_id, lead_id, channel, direction, sent_by, "
                    "occurred_at) VALUES ($1, $2, $3, 'inbound', 'lead', now())",
                    ws,
                    lead,
                    channel,
                )
            return []
        rows = await conn.fetch(
            "SELECT m.channel, i.kind, i.value FROM messages m "
            "JOIN lead_identities i ON i.id = m.identity_id ORDER BY 1"
        )
        kinds = await conn.fetch("SELECT kind, value FROM lead_identities ORDER BY kind")
        return [(r["channel"], r["kind"], r["value"]) for r in rows] + [
            ("-", r["kind"], r["value"]) for r in kinds
        ]
    finally:
        await conn.close()


def test_backfill_gives_existing_leads_their_identities(empty_database_url: str) -> None:
    upgrade(empty_database_url, "0008")
    asyncio.run(_seed_and_read(empty_database_url, "seed"))
    upgrade(empty_database_url, "0009")
    assert asyncio.run(_seed_and_read(empty_database_url, "read")) == [
        ("email", "email", "dana@northwind.example"),
        ("linkedin", "linkedin_id", "ACoAAB1"),
        ("sms", "phone", "+15125550143"),
        ("-", "email", "dana@northwind.example"),
        ("-", "emailbison_lead", "501"),
        ("-", "ghl_contact", "ct_1"),
        ("-", "linkedin_id", "ACoAAB1"),
        ("-", "linkedin_url", "linkedin.com/in/dana-reyes"),
        ("-", "phone", "+15125550143"),
    ]
