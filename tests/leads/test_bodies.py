"""Message bodies: provider HTML kept, a plain-text rendering, and the visible part with
quoted history and signature folded; stored by the worker path, returned by the API."""

from __future__ import annotations

from fastapi import FastAPI

from replydesk.core.db import Database
from replydesk.leads.bodies import render
from tests.support.events import apply_event
from tests.support.http import https_client
from tests.support.members import new_workspace_owner
from tests.support.samples import sample

QUOTED_HTML = (
    "<div>Sounds good, <b>Tuesday</b> works.</div><div><br></div>"
    "<div>Best,<br>Dana</div><div>--<br>Dana Reyes | Head of Ops</div>"
    '<div class="gmail_quote">On Mon, Jan 19, 2026 at 10:00 AM Sam &lt;sam@acme.example&gt; '
    "wrote:<br><blockquote>Hi Dana, shall we talk this week?</blockquote></div>"
)


def test_html_is_rendered_to_text_and_quotes_and_signature_are_folded() -> None:
    body = render("email", body=QUOTED_HTML, html=QUOTED_HTML, text=None)
    assert body.html == QUOTED_HTML
    assert body.text is not None and "<div>" not in body.text
    assert "Sounds good, Tuesday works." in body.text
    assert "shall we talk" in body.text  # the full rendering keeps the history
    assert body.visible == "Sounds good, Tuesday works."


def test_provider_text_wins_and_other_channels_are_not_folded() -> None:
    text = "Yes please.\n\nOn Mon, Jan 19, 2026 at 10:00 AM Sam wrote:\n> Interested?"
    email = render("email", body=text, html="<p>ignored for text</p>", text=text)
    assert (email.text, email.visible) == (text, "Yes please.")
    sms = render("sms", body="On Mon, Jan 19 Sam wrote: hi", html=None, text=None)
    assert sms.text == sms.visible == "On Mon, Jan 19 Sam wrote: hi"
    assert render("email", body=None, html=None, text=None).text is None


async def test_reply_and_campaign_bodies_through_processing_and_the_messages_api(
    app: FastAPI, db: Database
) -> None:
    owner = await new_workspace_owner(db, "Acme", "sam@acme.example")
    ws = owner.workspace_id
    campaign = sample("emailbison", "email_sent")
    campaign["data"]["scheduled_email"]["email_body"] = "<p>Hi Dana,</p><p>Quick <b>idea</b>.</p>"
    reply = sample("emailbison", "lead_replied")
    reply["data"]["reply"]["html_body"] = QUOTED_HTML
    reply["data"]["reply"]["text_body"] = None
    await apply_event(db, ws, "emailbison", campaign)
    outcome = await apply_event(db, ws, "emailbison", reply)
    async with https_client(app) as client:
        resp = await client.get(
            owner.url(f"leads/{outcome.lead_id}/messages"), headers=owner.headers
        )
    assert resp.status_code == 200, resp.text
    sent, received = resp.json()["items"]
    # The old field is unchanged (raw HTML for a campaign send); the new ones render it.
    assert sent["body"] == "<p>Hi Dana,</p><p>Quick <b>idea</b>.</p>"
    assert sent["body_html"] == sent["body"]
    assert sent["body_text"] == "Hi Dana,\n\nQuick idea."
    assert received["body_html"] == QUOTED_HTML
    assert received["body_visible"] == "Sounds good, Tuesday works."
    assert "shall we talk" in received["body_text"]
