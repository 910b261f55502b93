"""inbound.postprocess against real PostgreSQL: categories on the lead, out-of-office out of
"requires attention", unsubscribe recorded, manual categories kept, overrides labelled."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI

from replydesk.auth.service import create_workspace
from replydesk.automation import jobs as automation_jobs
from replydesk.automation import service as automation
from replydesk.core.db import Database
from replydesk.core.settings import get_settings
from replydesk.leads import service as leads
from replydesk.queue.queues import JOBS, ClaimedItem
from tests.support.events import apply_event
from tests.support.http import https_client
from tests.support.rows import fetch_rows
from tests.support.samples import sample


def _reply(serial: int, when: str, text: str, *, subject: str = "Re: Quick question") -> Any:
    payload = copy.deepcopy(sample("emailbison", "lead_replied"))
    reply = payload["data"]["reply"]
    reply.update(
        id=serial,
        text_body=text,
        html_body=None,
        date_received=when,
        email_subject=subject,
        interested=False,
    )
    payload["data"].pop("campaign_event", None)
    return payload


class Desk:
    def __init__(self, db: Database, client: httpx.AsyncClient, ws: uuid.UUID, token: str):
        self.db, self.client, self.ws = db, client, ws
        self.headers = {"Authorization": f"Bearer {token}"}

    async def reply(self, serial: int, when: str, text: str, **kw: Any) -> tuple[int, int]:
        out = await apply_event(self.db, self.ws, "emailbison", _reply(serial, when, text, **kw))
        assert out.lead_id and out.message_id
        return out.lead_id, out.message_id

    async def postprocess(self, message_id: int) -> automation.Postprocessed | None:
        async with self.db.session() as session:
            return await automation.postprocess(session, self.ws, message_id)

    async def lead(self, lead_id: int) -> dict[str, Any]:
        resp = await self.client.get(
            f"/api/v1/workspaces/{self.ws}/leads/{lead_id}", headers=self.headers
        )
        assert resp.status_code == 200, resp.text
        body: dict[str, Any] = resp.json()
        return body

    async def counts(self) -> dict[str, Any]:
        resp = await self.client.get(
            f"/api/v1/workspaces/{self.ws}/inbox/counts", headers=self.headers
        )
        body: dict[str, Any] = resp.json()
        return body

    async def patch(self, lead_id: int, body: dict[str, Any]) -> httpx.Response:
        return await self.client.patch(
            f"/api/v1/workspaces/{self.ws}/leads/{lead_id}", json=body, headers=self.headers
        )


async def _desk(app: FastAPI, db: Database, client: httpx.AsyncClient) -> Desk:
    async with db.session() as session:
        created = await create_workspace(session, "Cat", "sam@acme.example")
    return Desk(db, client, created.workspace_id, created.api_token)


async def test_out_of_office_leaves_attention_until_the_lead_writes_again(
    app: FastAPI, db: Database
) -> None:
    async with https_client(app) as client:
        desk = await _desk(app, db, client)
        lead_id, message_id = await desk.reply(
            1,
            "2026-12-18T10:00:00Z",
            "I am out of the office and will be back on 12 January.",
            subject="Automatic reply: Quick question",
        )
        assert (await desk.counts())["requires_attention"] == 1  # not categorised yet
        await desk.postprocess(message_id)
        lead = await desk.lead(lead_id)
        assert lead["category"] == "out_of_office"
        assert lead["category_source"] == "rules"
        assert 0 < lead["category_confidence"] <= 1
        assert lead["out_of_office_until"] == "2027-01-12"
        assert lead["requires_attention"] is False
        counts = await desk.counts()
        assert counts["requires_attention"] == 0 and counts["by_category"] == {}
        listed = await client.get(
            f"/api/v1/workspaces/{desk.ws}/leads",
            params={"filter": "requires_attention"},
            headers=desk.headers,
        )
        assert listed.json()["items"] == []
        # A real reply later needs attention at once, before its own job runs.
        _, second = await desk.reply(2, "2026-12-18T11:00:00Z", "Actually, what does it cost?")
        assert (await desk.lead(lead_id))["requires_attention"] is True
        assert (await desk.counts())["requires_attention"] == 1
        await desk.postprocess(second)
        lead = await desk.lead(lead_id)
        assert (lead["category"], lead["requires_attention"]) == ("question", True)


async def test_out_of_order_jobs_end_with_the_newest_substantive_category(
    app: FastAPI, db: Database
) -> None:
    async with https_client(app) as client:
        desk = await _desk(app, db, client)
        lead_id, first = await desk.reply(1, "2026-12-01T09:00:00Z", "Not interested, thanks.")
        _, second = await desk.reply(2, "2026-12-02T09:00:00Z", "Sounds good, tell me more.")
        _, third = await desk.reply(3, "2026-12-03T09:00:00Z", "I am on vacation.")
        for message_id in (third, second, first):  # newest job first
            await desk.postprocess(message_id)
        lead = await desk.lead(lead_id)
        # "interested" (newest substantive) wins; the auto-reply does not replace it but still
        # takes the lead out of attention (it is the newest inbound).
        assert lead["category"] == "interested"
        assert lead["requires_attention"] is False
        rows = await fetch_rows(
            db, "SELECT category_message_id FROM leads WHERE id = :id", id=lead_id
        )
        assert rows[0]["category_message_id"] == second
        # A replayed job changes nothing.
        before = await fetch_rows(db, "SELECT * FROM leads WHERE id = :id", id=lead_id)
        await desk.postprocess(second)
        assert await fetch_rows(db, "SELECT * FROM leads WHERE id = :id", id=lead_id) == before


async def test_manual_category_is_never_overwritten_and_overrides_are_labelled(
    app: FastAPI, db: Database
) -> None:
    async with https_client(app) as client:
        desk = await _desk(app, db, client)
        lead_id, first = await desk.reply(1, "2026-12-01T09:00:00Z", "How much does it cost?")
        await desk.postprocess(first)
        assert (await desk.lead(lead_id))["category"] == "question"
        resp = await desk.patch(lead_id, {"category": "interested"})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert (body["category"], body["category_source"], body["category_confidence"]) == (
            "interested",
            "manual",
            1.0,
        )
        overrides = await fetch_rows(
            db,
            "SELECT lead_id, message_id, automatic_category, automatic_source, "
            "manual_category, actor_user_id FROM category_overrides",
        )
        assert len(overrides) == 1
        row = overrides[0]
        assert (row["lead_id"], row["message_id"]) == (lead_id, first)
        assert (row["automatic_category"], row["automatic_source"]) == ("question", "rules")
        assert row["manual_category"] == "interested" and row["actor_user_id"] is not None
        # A repeat changes nothing and records nothing.
        assert (await desk.patch(lead_id, {"category": "interested"})).status_code == 200
        assert len(await fetch_rows(db, "SELECT id FROM category_overrides")) == 1
        # Newer replies and provider signals do not replace the operator's category.
        _, second = await desk.reply(2, "2026-12-05T09:00:00Z", "Not interested.")
        await desk.postprocess(second)
        interested = copy.deepcopy(sample("emailbison", "lead_interested"))
        await apply_event(db, desk.ws, "emailbison", interested)
        lead = await desk.lead(lead_id)
        assert (lead["category"], lead["category_source"]) == ("interested", "manual")
        # Manual to manual is not an override of automation.
        await desk.patch(lead_id, {"category": "referral"})
        assert len(await fetch_rows(db, "SELECT id FROM category_overrides")) == 1
        # Clearing hands the category back to automation.
        cleared = (await desk.patch(lead_id, {"category": None})).json()
        assert (cleared["category"], cleared["category_source"]) == (None, None)
        await desk.postprocess(second)
        assert (await desk.lead(lead_id))["category"] == "not_interested"


async def test_patch_refuses_words_outside_the_vocabulary(app: FastAPI, db: Database) -> None:
    async with https_client(app) as client:
        desk = await _desk(app, db, client)
        lead_id, _ = await desk.reply(1, "2026-12-01T09:00:00Z", "Hello")
        resp = await desk.patch(lead_id, {"category": "Hot lead"})
        assert resp.status_code == 422 and "category" in resp.text


async def test_unsubscribe_reply_refuses_future_sends(app: FastAPI, db: Database) -> None:
    async with https_client(app) as client:
        desk = await _desk(app, db, client)
        lead_id, message_id = await desk.reply(
            1, "2026-12-01T09:00:00Z", "Bitte entfernen Sie mich aus Ihrem Verteiler."
        )
        async with db.session() as session:
            assert await leads.is_unsubscribed(session, desk.ws, lead_id) is False
        await desk.postprocess(message_id)
        await desk.postprocess(message_id)  # replayed: one timeline event
        lead = await desk.lead(lead_id)
        assert (lead["status"], lead["category"], lead["category_source"]) == (
            "unsubscribed",
            "unsubscribe",
            "rules",
        )
        assert lead["requires_attention"] is False
        events = await fetch_rows(
            db, "SELECT external_id FROM lead_events WHERE kind = 'unsubscribe'"
        )
        assert events == [{"external_id": f"message:{message_id}"}]
        async with db.session() as session:
            assert await leads.is_unsubscribed(session, desk.ws, lead_id) is True
            assert await leads.is_unsubscribed(session, uuid.uuid4(), lead_id) is False


async def test_a_closed_lead_that_unsubscribes_stays_closed_and_is_refused(
    app: FastAPI, db: Database
) -> None:
    async with https_client(app) as client:
        desk = await _desk(app, db, client)
        lead_id, first = await desk.reply(1, "2026-12-01T09:00:00Z", "Thanks!")
        assert (await desk.patch(lead_id, {"status": "closed"})).status_code == 200
        _, second = await desk.reply(2, "2026-12-02T09:00:00Z", "Unsubscribe")
        await desk.postprocess(second)
        lead = await desk.lead(lead_id)
        assert (lead["status"], lead["category"]) == ("closed", "unsubscribe")
        async with db.session() as session:
            assert await leads.is_unsubscribed(session, desk.ws, lead_id) is True
        assert first != second


async def test_provider_signals_are_source_provider(app: FastAPI, db: Database) -> None:
    async with https_client(app) as client:
        desk = await _desk(app, db, client)
        out = await apply_event(db, desk.ws, "emailbison", sample("emailbison", "lead_interested"))
        assert out.lead_id
        lead = await desk.lead(out.lead_id)
        assert (lead["category"], lead["category_source"], lead["category_confidence"]) == (
            "interested",
            "provider",
            None,
        )
        await apply_event(db, desk.ws, "emailbison", sample("emailbison", "lead_unsubscribed"))
        lead = await desk.lead(out.lead_id)
        assert (lead["category"], lead["category_source"], lead["status"]) == (
            "unsubscribe",
            "provider",
            "unsubscribed",
        )


async def test_the_job_handler_categorises_and_logs_no_text(
    app: FastAPI, db: Database, log_capture: Any
) -> None:
    async with https_client(app) as client:
        desk = await _desk(app, db, client)
        lead_id, message_id = await desk.reply(
            1, "2026-12-01T09:00:00Z", "Secret pricing question: how much is it?"
        )
        item = ClaimedItem(
            table=JOBS.name,
            id=1,
            kind="inbound.postprocess",
            attempts=1,
            max_attempts=5,
            payload={"lead_id": lead_id, "message_id": message_id, "channel": "email"},
            workspace_id=desk.ws,
            worker="test",
            claimed_at=datetime.now(UTC),
        )
        handler = automation_jobs.PostprocessJob(get_settings()).apply  # no AI key: the rules
        async with db.session() as session:
            assert await handler(session, item) is None
        gone = ClaimedItem(**{**item.__dict__, "payload": {"lead_id": 1, "message_id": 10**9}})
        async with db.session() as session:
            assert await handler(session, gone) is not None
        assert (await desk.lead(lead_id))["category"] == "question"
        lines = [r for r in log_capture.records() if r["event"] == "inbound_categorised"]
        assert len(lines) == 1 and lines[0]["result"] == "question"
        assert not any("Secret" in str(r) for r in log_capture.records())
