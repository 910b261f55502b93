"""The inbox sidebar's SLA breaches (issue 12 "Inbox"): shown with an attention SLA, linked
to the filtered list, refreshed with the counts fragment the page polls."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI

from replydesk.core.db import Database
from tests.support.http import https_client
from tests.support.members import PASSWORD, new_workspace_owner
from tests.support.rows import fetch_rows, insert_lead


async def _waiting(db: Database, ws: Any, hours: float) -> int:
    at = datetime.now(UTC) - timedelta(hours=hours)
    return await insert_lead(
        db,
        ws,
        email=f"lead{hours}@x.example",
        last_inbound_at=at,
        last_message_at=at,
        last_inbound_channel="email",
    )


def _lead_links(html: str, ws: Any) -> set[int]:
    return {int(n) for n in re.findall(rf'href="/w/{ws}/leads/(\d+)"', html)}


async def test_sidebar_shows_sla_breaches_links_the_list_and_refreshes(
    app: FastAPI, db: Database
) -> None:
    owner = await new_workspace_owner(db, "Acme", "sam@acme.example")
    ws = owner.workspace_id
    late = await _waiting(db, ws, 10)
    fresh = await _waiting(db, ws, 1)
    async with https_client(app) as client:
        signed = await client.post("/login", data={"email": owner.email, "password": PASSWORD})
        assert signed.status_code == 303
        # No SLA: no breach count, no such view offered.
        page = await client.get(f"/w/{ws}/inbox")
        assert page.status_code == 200
        assert "count-sla-breached" not in page.text and "SLA breaches" not in page.text

        await fetch_rows(
            db,
            "INSERT INTO automation_settings (workspace_id, settings, updated_at) "
            "VALUES (:ws, CAST(:s AS jsonb), now()) RETURNING workspace_id",
            ws=ws,
            s='{"attention_sla_hours": 4}',
        )
        page = await client.get(f"/w/{ws}/inbox")
        assert re.search(r'id="count-sla-breached">1<', page.text), page.text
        assert f'href="/w/{ws}/inbox?view=sla_breached&amp;sort=oldest_waiting"' in page.text
        assert "longer than the 4 h attention SLA" in page.text
        assert '<option value="sla_breached"' in page.text

        listed = await client.get(
            f"/w/{ws}/inbox", params={"view": "sla_breached", "sort": "oldest_waiting"}
        )
        assert listed.status_code == 200
        assert _lead_links(listed.text, ws) == {late}
        assert fresh not in _lead_links(listed.text, ws)

        # The polled fragment carries the count: a new breach shows on the next refresh.
        await _waiting(db, ws, 30)
        fragment = await client.get(f"/w/{ws}/inbox/counts", headers={"HX-Request": "true"})
        assert fragment.status_code == 200
        assert re.search(r'id="count-sla-breached">2<', fragment.text), fragment.text
        assert 'hx-get="/w/' in fragment.text and "every 3s" in fragment.text
