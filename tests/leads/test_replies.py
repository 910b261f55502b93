"""Our replies in the leads domain: the echo of our own send stored once whichever arrives
first, requires-attention across queued/failed, quarantines through merges."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from replydesk.core.db import Database
from replydesk.leads import identity, merges, replies
from replydesk.leads import service as leads
from replydesk.leads.vocabulary import Channel, Direction, IdentityKind, SentBy
from tests.support.members import new_workspace_owner
from tests.support.queue import fetch, fetchval

EMAIL = "dana.reyes@northwind.example"


async def _lead(db: Database, ws: uuid.UUID, email: str = EMAIL) -> int:
    """A lead who wrote an hour ago (requires attention)."""
    async with db.session() as session:
        person = await leads.resolve_lead(
            session, ws, identity.keys((IdentityKind.EMAIL, email)), leads.LeadProfile()
        )
        await leads.record_message(
            session,
            ws,
            person.lead_id,
            leads.NewMessage(
                channel=Channel.EMAIL,
                direction=Direction.INBOUND,
                sent_by=SentBy.LEAD,
                occurred_at=datetime.now(UTC) - timedelta(hours=1),
                key_column="emailbison_reply_id",
                key=abs(hash(email)) % 10**9,
                body="Can we talk?",
                identity_id=person.identity_id,
            ),
        )
    return person.lead_id


async def _awaiting(url: str, lead_id: int) -> bool:
    return bool(await fetchval(url, "SELECT awaiting_reply FROM leads WHERE id = $1", lead_id))


async def _queue(db: Database, ws: uuid.UUID, lead_id: int) -> int:
    async with db.session() as session:
        queued = await replies.queue_reply(session, ws, lead_id, Channel.EMAIL, "Sure", None, None)
    return queued.id


async def test_an_echo_stored_before_the_send_is_recorded_merges_into_the_reply(
    db: Database, database_url: str
) -> None:
    owner = await new_workspace_owner(db, "Acme", "owner@acme.example")
    ws = owner.workspace_id
    lead_id = await _lead(db, ws)
    reply_id = await _queue(db, ws, lead_id)
    # The webhook of our own send wins the race: it is stored as a provider message first.
    async with db.session() as session:
        echo = await leads.record_message(
            session,
            ws,
            lead_id,
            leads.NewMessage(
                channel=Channel.EMAIL,
                direction=Direction.OUTBOUND,
                sent_by=SentBy.TEAM,
                occurred_at=datetime.now(UTC),
                key_column="emailbison_reply_id",
                key=94_001,
                body="Sure",
            ),
        )
    assert echo.created
    async with db.session() as session:
        assert await replies.mark_reply_sent(
            session, ws, reply_id, lead_id, "email", "emailbison_reply_id", 94_001
        )
    rows = await fetch(
        database_url, "SELECT id, status FROM messages WHERE emailbison_reply_id = 94001"
    )
    assert [(r["id"], r["status"]) for r in rows] == [(reply_id, "sent")]
    # A later re-delivery of the echo matches the reply: no second message.
    async with db.session() as session:
        again = await leads.record_message(
            session,
            ws,
            lead_id,
            leads.NewMessage(
                channel=Channel.EMAIL,
                direction=Direction.OUTBOUND,
                sent_by=SentBy.TEAM,
                occurred_at=datetime.now(UTC),
                key_column="emailbison_reply_id",
                key=94_001,
                body="Sure",
            ),
        )
    assert again.id == reply_id and not again.created
    assert await fetchval(database_url, "SELECT count(*) FROM messages") == 2


async def test_a_failed_reply_returns_the_lead_to_requires_attention(
    db: Database, database_url: str
) -> None:
    owner = await new_workspace_owner(db, "Acme", "owner@acme.example")
    ws = owner.workspace_id
    lead_id = await _lead(db, ws)
    assert await _awaiting(database_url, lead_id)
    first = await _queue(db, ws, lead_id)
    second = await _queue(db, ws, lead_id)
    assert not await _awaiting(database_url, lead_id)
    async with db.session() as session:
        assert await replies.mark_reply_failed(session, ws, second, "provider_error", "boom")
    # The first reply still answers the lead.
    assert not await _awaiting(database_url, lead_id)
    async with db.session() as session:
        assert await replies.mark_reply_failed(session, ws, first, "provider_error", "boom")
        # Recorded once: a failed reply is not failed again, nor sent.
        assert not await replies.mark_reply_failed(session, ws, first, "provider_error", "boom")
        assert not await replies.mark_reply_sent(
            session, ws, first, lead_id, "email", "emailbison_reply_id", 5
        )
    assert await _awaiting(database_url, lead_id)


async def test_quarantines_move_with_a_merge_and_come_back_on_undo(db: Database) -> None:
    owner = await new_workspace_owner(db, "Acme", "owner@acme.example")
    ws = owner.workspace_id
    first = await _lead(db, ws)
    second = await _lead(db, ws, "dana@other.example")
    async with db.session() as session:
        reply_id = await replies.queue_reply(
            session, ws, second, Channel.EMAIL, "Hi", "Hello", None
        )
        assert await replies.quarantine_channel(
            session, ws, second, Channel.LINKEDIN, "invalid_recipient", reply_id.id
        )
        # Idempotent per failed message.
        assert not await replies.quarantine_channel(
            session, ws, second, Channel.LINKEDIN, "invalid_recipient", reply_id.id
        )
    async with db.session() as session:
        record = await merges.merge(session, ws, first, second, owner.user_id)
        states = await replies.channel_states(session, ws, first)
    assert states["linkedin"]["state"] == "quarantined"
    async with db.session() as session:
        await merges.unmerge(session, ws, first, int(record["id"]), owner.user_id)
        assert (await replies.channel_states(session, ws, first))["linkedin"]["state"] == "ok"
        assert (await replies.channel_states(session, ws, second))["linkedin"]["state"] == (
            "quarantined"
        )
        assert await replies.lift_quarantine(session, ws, second, Channel.LINKEDIN, None) == 1
        assert (await replies.channel_states(session, ws, second))["linkedin"]["state"] == "ok"
