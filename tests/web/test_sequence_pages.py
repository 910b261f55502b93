"""The follow-up sequences' pages and the lead page's follow-ups panel over HTTP (no browser):
create and edit through the form (the API's validation, shown inline; nothing stored when
refused), member vs admin, tenant isolation, CSRF, enrol / pause / resume / stop in place."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from replydesk.automation.sequences import service as sequences
from replydesk.automation.sequences.schemas import SequenceIn
from replydesk.core.db import Database
from tests.support.http import https_client
from tests.support.members import PASSWORD, add_member, new_workspace_owner
from tests.support.rows import fetch_rows, insert_lead

HX = {"HX-Request": "true"}


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


async def _sign_in(client: httpx.AsyncClient, email: str) -> None:
    resp = await client.post("/login", data={"email": email, "password": PASSWORD})
    assert resp.status_code == 303, resp.text


def _row(i: int, channel: str, delay: str, template: str, **extra: str) -> dict[str, str]:
    row = {
        f"steps-{i}-channel": channel,
        f"steps-{i}-delay": delay,
        f"steps-{i}-unit": extra.pop("unit", "hours"),
        f"steps-{i}-subject": extra.pop("subject", ""),
        f"steps-{i}-template": template,
    }
    row.update({f"steps-{i}-{k}": v for k, v in extra.items()})
    return row


def _blank(i: int) -> dict[str, str]:
    return _row(i, "email", "", "")


async def _stored(db: Database) -> list[dict[str, Any]]:
    return await fetch_rows(
        db, "SELECT id, name, trigger, steps, enabled FROM sequences ORDER BY id"
    )


async def _sequence(
    db: Database, workspace_id: uuid.UUID, name: str = "Nudge", *, enabled: bool = True
) -> int:
    body = SequenceIn.model_validate(
        {
            "name": name,
            "trigger": "manual",
            "enabled": enabled,
            "steps": [{"channel": "email", "delay_hours": 24, "template": "Hi {first_name|there}"}],
        }
    )
    async with db.session() as session:
        created = await sequences.create_sequence(session, workspace_id, body, None)
    return created.id


async def test_create_and_edit_a_sequence_through_the_form(app: FastAPI, db: Database) -> None:
    owner = await new_workspace_owner(db, "Acme", "sam@acme.example")
    base = f"/w/{owner.workspace_id}/sequences"
    async with https_client(app) as client:
        await _sign_in(client, owner.email)
        page = await client.get(base)
        assert page.status_code == 200, page.text
        assert "No sequences yet." in page.text and "Create sequence" in page.text
        # Three blank rows to fill in, each control labelled.
        assert page.text.count("<legend>Step ") == 3
        for name in ("steps-0-channel", "steps-0-delay", "steps-0-template", "seq-name"):
            assert f'for="{name}"' in page.text and f'id="{name}"' in page.text
        token = _csrf(page.text)
        form = {
            "csrf_token": token,
            "name": "  Gentle nudge ",
            "trigger": "no_reply_after_outbound",
            "enabled": "true",
            **_row(0, "email", "48", "Hi {first_name},\r\nany thoughts?", subject="Quick one"),
            **_row(1, "sms", "2", "Still keen, {first_name|there}?", unit="business_days"),
            **_blank(2),
        }
        created = await client.post(base, data=form)
        assert created.status_code == 303, created.text
        location = created.headers["location"]
        found = re.fullmatch(rf"{base}/(\d+)\?saved=true", location)
        assert found, location
        seq_id = int(found.group(1))
        edit = await client.get(location)
        listing = await client.get(base)
    assert edit.status_code == 200 and 'role="status"' in edit.text and "Saved." in edit.text
    assert 'value="Gentle nudge"' in edit.text and 'value="Quick one"' in edit.text
    assert ">Hi {first_name},\nany thoughts?</textarea>" in edit.text
    # The stored steps and one more blank row after them.
    assert edit.text.count("<legend>Step ") == 5
    assert re.search(r'<option value="business_days" selected>', edit.text)
    row = re.search(rf'<tr data-item id="sequence-{seq_id}">(.*?)</tr>', listing.text, re.S)
    assert row, listing.text
    cells = re.findall(r"<td>(.*?)</td>", row.group(1), re.S)
    assert "Gentle nudge" in cells[0] and cells[1:4] == ["no reply after outbound", "2", "yes"]
    assert await _stored(db) == [
        {
            "id": seq_id,
            "name": "Gentle nudge",
            "trigger": "no_reply_after_outbound",
            "enabled": True,
            "steps": [
                {
                    "channel": "email",
                    "delay_hours": 48.0,
                    "subject": "Quick one",
                    "template": "Hi {first_name},\nany thoughts?",
                },
                {
                    "channel": "sms",
                    "delay_business_days": 2,
                    "template": "Still keen, {first_name|there}?",
                },
            ],
        }
    ]

    # Edit: rename, disable (the checkbox left out), remove step 1, add a LinkedIn step.
    async with https_client(app) as client:
        await _sign_in(client, owner.email)
        token = _csrf((await client.get(f"{base}/{seq_id}")).text)
        saved = await client.post(
            f"{base}/{seq_id}",
            data={
                "csrf_token": token,
                "name": "Nudge v2",
                "trigger": "manual",
                **_row(0, "email", "48", "Hi {first_name}", subject="Quick one", remove="true"),
                **_row(1, "sms", "2", "Still keen?", unit="business_days"),
                **_row(2, "linkedin", "1.5", "Connecting here too, {first_name|there}"),
                **_blank(3),
                **_blank(4),
            },
        )
        assert (saved.status_code, saved.headers.get("location")) == (
            303,
            f"{base}/{seq_id}?saved=true",
        )
    stored = await _stored(db)
    assert [(s["name"], s["trigger"], s["enabled"]) for s in stored] == [
        ("Nudge v2", "manual", False)
    ]
    assert stored[0]["steps"] == [
        {"channel": "sms", "delay_business_days": 2, "template": "Still keen?"},
        {
            "channel": "linkedin",
            "delay_hours": 1.5,
            "template": "Connecting here too, {first_name|there}",
        },
    ]


async def test_bad_input_is_shown_inline_and_nothing_is_stored(app: FastAPI, db: Database) -> None:
    owner = await new_workspace_owner(db, "Acme", "sam@acme.example")
    base = f"/w/{owner.workspace_id}/sequences"
    async with https_client(app) as client:
        await _sign_in(client, owner.email)
        token = _csrf((await client.get(base)).text)
        bad = await client.post(
            base,
            data={
                "csrf_token": token,
                "name": "   ",
                "trigger": "manual",
                "enabled": "true",
                **_row(0, "sms", "1", "Hi {first_name}", subject="Not for SMS"),
                **_blank(1),
                **_row(2, "email", "2", "Hi {nickname}"),
                **_row(3, "email", "", "Hi there"),
                **_row(4, "email", "1.5", "Hi", unit="business_days"),
            },
        )
        empty = await client.post(
            base, data={"csrf_token": token, "name": "Empty", "trigger": "manual", **_blank(0)}
        )
        odd = await client.post(
            base,
            data={
                "csrf_token": token,
                "name": "Odd",
                "trigger": "weekly",
                **_row(0, "fax", "1", "x"),
            },
        )
    assert bad.status_code == 422, bad.text
    html = bad.text
    summary = re.search(r'<div class="error-summary" role="alert"[^>]*>(.*?)</div>', html, re.S)
    assert summary, html
    problems = re.findall(r"<li>(.*?)</li>", summary.group(1))
    assert problems[0] == "Name: name must not be blank"
    assert "Step 1: subject is for e-mail steps only, not sms" in problems
    assert any(p.startswith("Step 3 template:") and "nickname" in p for p in problems)
    assert "Step 4: give exactly one of delay_hours and delay_business_days" in problems
    assert any(p.startswith("Step 5 delay business days:") for p in problems)
    # Next to their fields, marked invalid, the posted values kept.
    assert 'id="steps-2-template" name="steps-2-template" rows="4" maxlength="10000" ' in html
    assert 'aria-invalid="true" aria-describedby="err-steps-2-template"' in html
    assert 'id="err-steps-2-template"' in html and 'id="err-steps-0"' in html
    assert 'aria-describedby="err-name"' in html and "Hi {nickname}</textarea>" in html
    assert 'value="Not for SMS"' in html
    assert empty.status_code == 422 and "Steps: List should have at least 1 item" in empty.text
    assert odd.status_code == 422
    assert "Trigger: Input should be" in odd.text and "Step 1 channel: Input should be" in odd.text
    assert await _stored(db) == []

    # A refused edit leaves the stored sequence as it was.
    seq_id = await _sequence(db, owner.workspace_id)
    async with https_client(app) as client:
        await _sign_in(client, owner.email)
        token = _csrf((await client.get(f"{base}/{seq_id}")).text)
        refused = await client.post(
            f"{base}/{seq_id}",
            data={
                "csrf_token": token,
                "name": "Renamed",
                "trigger": "manual",
                **_row(0, "email", "1", "{"),
            },
        )
    assert refused.status_code == 422 and 'role="alert"' in refused.text
    assert "Step 1 template:" in refused.text and 'value="Renamed"' in refused.text
    assert [s["name"] for s in await _stored(db)] == ["Nudge"]


async def test_a_member_reads_sequences_but_cannot_change_them(app: FastAPI, db: Database) -> None:
    owner = await new_workspace_owner(db, "Acme", "sam@acme.example")
    member = await add_member(db, owner.workspace_id, "kim@acme.example")
    seq_id = await _sequence(db, owner.workspace_id)
    base = f"/w/{owner.workspace_id}/sequences"
    async with https_client(app) as client:
        await _sign_in(client, owner.email)
        admin_list = await client.get(base)
        admin_edit = await client.get(f"{base}/{seq_id}")
        await _sign_in(client, member.email)
        listing = await client.get(base)
        edit = await client.get(f"{base}/{seq_id}")
        token = _csrf(edit.text)
        create = await client.post(
            base,
            data={
                "csrf_token": token,
                "name": "Mine",
                "trigger": "manual",
                **_row(0, "email", "1", "Hi"),
            },
        )
        update = await client.post(
            f"{base}/{seq_id}",
            data={
                "csrf_token": token,
                "name": "Taken",
                "trigger": "manual",
                **_row(0, "email", "1", "Hi"),
            },
        )
    assert 'aria-label="Admin"' in admin_list.text and "Create sequence" in admin_list.text
    assert "Save sequence" in admin_edit.text and '<fieldset class="plain">' in admin_edit.text
    assert listing.status_code == 200 and f'id="sequence-{seq_id}"' in listing.text
    assert "Create sequence" not in listing.text and 'aria-label="Admin"' not in listing.text
    assert f'href="{base}"' in listing.text  # the main navigation links it for members too
    assert "/admin/integrations" not in listing.text
    assert edit.status_code == 200 and "Read-only" in edit.text
    assert '<fieldset class="plain" disabled>' in edit.text and "Save sequence" not in edit.text
    for resp in (create, update):
        assert resp.status_code == 403, resp.text
        assert "Not allowed" in resp.text
    assert [s["name"] for s in await _stored(db)] == ["Nudge"]


async def test_another_workspaces_sequence_is_a_404_page(app: FastAPI, db: Database) -> None:
    owner = await new_workspace_owner(db, "Acme", "sam@acme.example")
    rival = await new_workspace_owner(db, "Rival", "lee@rival.example")
    theirs = await _sequence(db, rival.workspace_id, "Rival secret cadence")
    lead = await insert_lead(db, owner.workspace_id, email="ann@lead.example")
    mine = f"/w/{owner.workspace_id}"
    async with https_client(app) as client:
        await _sign_in(client, owner.email)
        token = _csrf((await client.get(f"{mine}/sequences")).text)
        seen = await client.get(f"{mine}/sequences/{theirs}")
        edited = await client.post(
            f"{mine}/sequences/{theirs}",
            data={
                "csrf_token": token,
                "name": "Hijack",
                "trigger": "manual",
                **_row(0, "email", "1", "Hi"),
            },
        )
        their_list = await client.get(f"/w/{rival.workspace_id}/sequences")
        their_page = await client.get(f"/w/{rival.workspace_id}/sequences/{theirs}")
        enrolled = await client.post(
            f"{mine}/leads/{lead}/followups",
            data={"csrf_token": token, "sequence_id": str(theirs)},
            headers=HX,
        )
        lead_page = await client.get(f"{mine}/leads/{lead}")
    for resp in (seen, edited, their_list, their_page, enrolled):
        assert resp.status_code == 404, resp.text
        assert "Not found" in resp.text and "Rival secret cadence" not in resp.text
    assert "Rival secret cadence" not in lead_page.text
    assert [s["name"] for s in await _stored(db)] == ["Rival secret cadence"]
    assert await fetch_rows(db, "SELECT id FROM followups") == []


async def test_forged_posts_are_refused(app: FastAPI, db: Database) -> None:
    owner = await new_workspace_owner(db, "Acme", "sam@acme.example")
    seq_id = await _sequence(db, owner.workspace_id)
    lead = await insert_lead(db, owner.workspace_id, email="ann@lead.example")
    ws = f"/w/{owner.workspace_id}"
    form = {"name": "Forged", "trigger": "manual", "enabled": "true", **_row(0, "email", "1", "Hi")}
    async with https_client(app) as client:
        await _sign_in(client, owner.email)
        token = _csrf((await client.get(f"{ws}/leads/{lead}")).text)
        forged = [
            await client.post(f"{ws}/sequences", data=form),
            await client.post(f"{ws}/sequences", data={**form, "csrf_token": "x" * 20}),
            await client.post(f"{ws}/sequences/{seq_id}", data=form),
            await client.post(f"{ws}/leads/{lead}/followups", data={"sequence_id": str(seq_id)}),
            await client.post(
                f"{ws}/leads/{lead}/followups", data={"sequence_id": str(seq_id)}, headers=HX
            ),
        ]
        enrolled = await client.post(
            f"{ws}/leads/{lead}/followups", data={"csrf_token": token, "sequence_id": str(seq_id)}
        )
        assert enrolled.status_code == 303
        (followup,) = await fetch_rows(db, "SELECT id FROM followups")
        forged.append(await client.post(f"{ws}/leads/{lead}/followups/{followup['id']}/stop"))
    for resp in forged:
        assert resp.status_code == 403, resp.text
    assert [s["name"] for s in await _stored(db)] == ["Nudge"]
    assert await fetch_rows(db, "SELECT state FROM followups") == [{"state": "active"}]


async def test_lead_panel_enrol_pause_resume_stop_in_place(app: FastAPI, db: Database) -> None:
    owner = await new_workspace_owner(db, "Acme", "sam@acme.example")
    member = await add_member(db, owner.workspace_id, "kim@acme.example")
    seq_id = await _sequence(db, owner.workspace_id, "Nudge")
    off = await _sequence(db, owner.workspace_id, "Dormant", enabled=False)
    lead = await insert_lead(db, owner.workspace_id, email="ann@lead.example", first_name="Ann")
    url = f"/w/{owner.workspace_id}/leads/{lead}"
    async with https_client(app) as client:
        await _sign_in(client, member.email)  # any member, as in the API
        page = await client.get(url)
        assert page.status_code == 200, page.text
        assert (
            'id="followups-title">Follow-ups<' in page.text and "Not in any sequence." in page.text
        )
        assert 'for="enrol-sequence">Enrol in sequence<' in page.text
        assert f'<option value="{seq_id}">Nudge</option>' in page.text
        assert f'<option value="{off}">' not in page.text  # disabled: not offered
        hx = {**HX, "X-CSRF-Token": _csrf(page.text)}

        enrolled = await client.post(
            f"{url}/followups", data={"sequence_id": str(seq_id)}, headers=hx
        )
        assert enrolled.status_code == 200, enrolled.text
        assert "<html" not in enrolled.text and enrolled.text.lstrip().startswith(
            '<section id="followups"'
        )
        (row,) = await fetch_rows(db, "SELECT id, state FROM followups")
        fid = row["id"]
        assert row["state"] == "active"
        item = _item(enrolled.text, fid)
        assert ">active<" in item and "step 1 of 1" in item and "next step " in item
        assert "sent 0 · skipped 0 · failed 0" in item
        assert f'/followups/{fid}/pause"' in item and f'/followups/{fid}/stop"' in item

        paused = await client.post(f"{url}/followups/{fid}/pause", headers=hx)
        assert paused.status_code == 200 and ">paused<" in _item(paused.text, fid)
        assert f'/followups/{fid}/resume"' in _item(paused.text, fid)
        assert await _states(db) == ["paused"]

        resumed = await client.post(f"{url}/followups/{fid}/resume", headers=hx)
        assert resumed.status_code == 200 and ">active<" in _item(resumed.text, fid)
        assert await _states(db) == ["active"]

        stopped = await client.post(f"{url}/followups/{fid}/stop", headers=hx)
        item = _item(stopped.text, fid)
        assert stopped.status_code == 200 and ">stopped<" in item and "(manual)" in item
        assert "/pause" not in item and "/resume" not in item and "/stop" not in item

        # A finished enrolment cannot be resumed, nor the lead enrolled again: said in place.
        late = await client.post(f"{url}/followups/{fid}/resume", headers=hx)
        again = await client.post(f"{url}/followups", data={"sequence_id": str(seq_id)}, headers=hx)
        disabled = await client.post(f"{url}/followups", data={"sequence_id": str(off)}, headers=hx)
        junk = await client.post(f"{url}/followups", data={"sequence_id": "abc"}, headers=hx)
        # Without htmx a refusal is the error page with the API's status.
        plain = await client.post(
            f"{url}/followups/{fid}/pause", data={"csrf_token": hx["X-CSRF-Token"]}
        )
        final = await client.get(url)
    assert late.status_code == 200 and 'role="alert"' in late.text
    assert "cannot be resumed" in late.text
    assert again.status_code == 200 and "went through this sequence already" in again.text
    assert disabled.status_code == 200 and "the sequence is disabled" in disabled.text
    assert junk.status_code == 200 and "choose a sequence" in junk.text
    assert plain.status_code == 409 and "cannot be paused" in plain.text
    assert ">stopped<" in _item(final.text, fid)
    rows = await fetch_rows(db, "SELECT sequence_id, state, stop_reason FROM followups")
    assert rows == [{"sequence_id": seq_id, "state": "stopped", "stop_reason": "manual"}]


def _item(html: str, followup_id: int) -> str:
    found = re.search(
        rf'<li class="followup[^"]*" id="followup-{followup_id}">(.*?)</li>', html, re.S
    )
    assert found, html
    return found.group(1)


async def _states(db: Database) -> list[str]:
    return [r["state"] for r in await fetch_rows(db, "SELECT state FROM followups ORDER BY id")]
