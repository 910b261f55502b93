"""Merge suggestions, merge, split and unmerge through the API; search by any identity."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from replydesk.core.db import Database
from tests.leads.test_identity import dana_with_phone_and_linkedin
from tests.leads.test_processing import run
from tests.support.http import https_client
from tests.support.members import Member
from tests.support.rows import fetch_rows
from tests.support.samples import sample

OWNER = "ACoAAOwnerX"
DANA = [
    ("emailbison", "email_sent"),
    ("emailbison", "lead_replied"),
    ("emailbison", "untracked_reply_received"),
    ("ghl", "inbound_sms"),
    ("unipile", "message_received"),
]
# Compared before/after a round trip (updated_at moves, everything else must not).
STATE_COLUMNS = (
    "id, email, phone_e164, linkedin_provider_id, linkedin_profile_url, ghl_contact_id, "
    "emailbison_lead_id, first_name, last_name, company, title, status, category, untracked, "
    "open_count, bounce_count, last_inbound_at, last_outbound_at, last_team_outbound_at, "
    "last_message_at, last_inbound_channel, awaiting_reply, snoozed_until, assignee_user_id"
)


@pytest.fixture
async def api(app: FastAPI) -> Any:
    async with https_client(app) as client:
        yield client


async def _dana(db: Database, ws: uuid.UUID) -> dict[str, int]:
    await db_set_owner(db, ws)
    ids = {}
    for provider, name in DANA:
        ids[name] = (await run(db, ws, provider, sample(provider, name))).lead_id or 0
    return ids


async def db_set_owner(db: Database, ws: uuid.UUID) -> None:
    async with db.session() as session:
        from sqlalchemy import text

        await session.execute(
            text("UPDATE workspaces SET unipile_account_provider_id = :p WHERE id = :id"),
            {"p": OWNER, "id": ws},
        )


async def state(db: Database, ws: uuid.UUID) -> dict[str, Any]:
    leads = await fetch_rows(
        db, f"SELECT {STATE_COLUMNS} FROM leads WHERE workspace_id = :ws ORDER BY id", ws=ws
    )
    messages = await fetch_rows(
        db,
        "SELECT id, lead_id, identity_id FROM messages WHERE workspace_id = :ws ORDER BY id",
        ws=ws,
    )
    identities = await fetch_rows(
        db, "SELECT id, lead_id FROM lead_identities WHERE workspace_id = :ws ORDER BY id", ws=ws
    )
    events = await fetch_rows(
        db, "SELECT id, lead_id FROM lead_events WHERE workspace_id = :ws ORDER BY id", ws=ws
    )
    links = {
        name: await fetch_rows(db, sql, ws=ws)
        for name, sql in {
            "notes": "SELECT id, lead_id, body FROM lead_notes WHERE workspace_id = :ws "
            "ORDER BY id",
            "tags": "SELECT lead_id, tag_id FROM lead_tags WHERE workspace_id = :ws "
            "ORDER BY lead_id, tag_id",
            "reads": "SELECT user_id, lead_id, read_at FROM lead_reads WHERE workspace_id = :ws "
            "ORDER BY user_id, lead_id",
        }.items()
    }
    return {
        "leads": leads,
        "messages": messages,
        "identities": identities,
        "events": events,
        **links,
    }


async def annotate(
    api: httpx.AsyncClient, owner: Member, lead_id: int, note: str, tag_ids: list[int]
) -> None:
    """A note, tags and the owner's read mark on a lead."""
    resp = await api.post(
        owner.url(f"leads/{lead_id}/notes"), json={"body": note}, headers=owner.headers
    )
    assert resp.status_code == 201, resp.text
    for tag_id in tag_ids:
        put = await api.put(owner.url(f"leads/{lead_id}/tags/{tag_id}"), headers=owner.headers)
        assert put.status_code == 204, put.text
    read = await api.post(owner.url(f"leads/{lead_id}/read"), headers=owner.headers)
    assert read.status_code == 204, read.text


async def counts(api: httpx.AsyncClient, owner: Member) -> dict[str, Any]:
    body = (await api.get(owner.url("inbox/counts"), headers=owner.headers)).json()
    return {k: body[k] for k in ("requires_attention", "by_channel", "by_category", "total_leads")}


async def timeline(api: httpx.AsyncClient, owner: Member, lead_id: int) -> list[Any]:
    resp = await api.get(owner.url(f"leads/{lead_id}/timeline?limit=100"), headers=owner.headers)
    assert resp.status_code == 200, resp.text
    return list(resp.json()["items"])


def events(items: list[Any], kind: str) -> list[dict[str, Any]]:
    return [i["event"] for i in items if i["kind"] == "event" and i["event"]["kind"] == kind]


async def test_dana_stays_several_leads_with_a_suggestion_an_operator_accepts(
    db: Database, api: httpx.AsyncClient, owner: Member
) -> None:
    ids = await _dana(db, owner.workspace_id)
    email_lead, other_address = ids["email_sent"], ids["untracked_reply_received"]
    sms_lead, linkedin_lead = ids["inbound_sms"], ids["message_received"]
    assert len({email_lead, other_address, sms_lead, linkedin_lead}) == 4
    assert ids["lead_replied"] == email_lead
    resp = await api.get(owner.url(f"leads/{email_lead}/merge-suggestions"), headers=owner.headers)
    assert resp.status_code == 200, resp.text
    found = {s["lead"]["id"]: s["reason"] for s in resp.json()["items"]}
    # Same name, compatible company/domain (northwind ⊂ northwind-group); the SMS lead has
    # no name: nothing suggests it.
    assert found == {other_address: "same_name", linkedin_lead: "same_name"}
    tags = []
    for name in ("hot", "cold"):
        created = await api.post(owner.url("tags"), json={"name": name}, headers=owner.headers)
        tags.append(created.json()["id"])
    await annotate(api, owner, email_lead, "called her", tags[:1])
    await annotate(api, owner, linkedin_lead, "on LinkedIn", tags)
    marks = {
        r["lead_id"]: r["read_at"]
        for r in await fetch_rows(db, "SELECT lead_id, read_at FROM lead_reads")
    }
    before_counts = await counts(api, owner)
    before = await state(db, owner.workspace_id)
    before_timelines = [await timeline(api, owner, i) for i in (email_lead, linkedin_lead)]

    merged = await api.post(
        owner.url(f"leads/{email_lead}/merge"),
        json={"other_lead_id": linkedin_lead},
        headers=owner.headers,
    )
    assert merged.status_code == 200, merged.text
    record = merged.json()["merge"]
    assert (record["kind"], record["absorbed_lead_id"]) == ("merge", linkedin_lead)
    assert record["actor_user_id"] == str(owner.user_id)
    assert merged.json()["lead"]["linkedin_profile_url"].endswith(
        "linkedin.com/in/dana-reyes-example"
    )
    moved = await api.get(owner.url(f"leads/{linkedin_lead}"), headers=owner.headers)
    assert moved.status_code == 301
    assert moved.json() == {"merged_into": email_lead}
    assert moved.headers["location"].endswith(f"/leads/{email_lead}")
    convo = await api.get(owner.url(f"leads/{email_lead}/messages"), headers=owner.headers)
    assert {m["channel"] for m in convo.json()["items"]} == {"email", "linkedin"}
    # Notes move, tags are copied (once each), the earlier read mark stands.
    after = await state(db, owner.workspace_id)
    assert [(n["lead_id"], n["body"]) for n in after["notes"]] == [
        (email_lead, "called her"),
        (email_lead, "on LinkedIn"),
    ]
    assert after["tags"] == [{"lead_id": email_lead, "tag_id": t} for t in sorted(tags)]
    assert [(r["lead_id"], r["read_at"]) for r in after["reads"]] == [
        (email_lead, min(marks.values()))
    ]
    after_counts = await counts(api, owner)
    assert after_counts["total_leads"] == before_counts["total_leads"] - 1
    assert after_counts["requires_attention"] == before_counts["requires_attention"] - 1
    history = await api.get(owner.url(f"leads/{email_lead}/merges"), headers=owner.headers)
    assert [m["id"] for m in history.json()["items"]] == [record["id"]]
    # The merge is on the surviving lead's timeline, by the operator who merged.
    entries = events(await timeline(api, owner, email_lead), "merge")
    assert [(e["data"], e["actor_user_id"]) for e in entries] == [
        ({"merge_id": record["id"], "absorbed_lead_id": linkedin_lead}, str(owner.user_id))
    ]

    undone = await api.post(
        owner.url(f"leads/{email_lead}/unmerge"),
        json={"merge_id": record["id"]},
        headers=owner.headers,
    )
    assert undone.status_code == 200, undone.text
    assert undone.json()["merge"]["undone_at"] is not None
    assert await state(db, owner.workspace_id) == before
    assert await counts(api, owner) == before_counts
    # Undone, both timelines are as before (the audit stays in the merges history).
    assert [await timeline(api, owner, i) for i in (email_lead, linkedin_lead)] == before_timelines
    again = await api.post(
        owner.url(f"leads/{email_lead}/unmerge"),
        json={"merge_id": record["id"]},
        headers=owner.headers,
    )
    assert again.status_code == 409
    assert (
        await api.get(owner.url(f"leads/{linkedin_lead}"), headers=owner.headers)
    ).status_code == 200


async def test_a_merge_never_marks_read_what_the_user_has_not_read(
    db: Database, api: httpx.AsyncClient, owner: Member
) -> None:
    """Only the absorbed lead was read: the surviving lead has inbound messages the user has
    not seen, so the merged lead is unread (no mark); the undo gives the mark back."""
    ids = await _dana(db, owner.workspace_id)
    sms_lead, linkedin_lead = ids["inbound_sms"], ids["message_received"]
    read = await api.post(owner.url(f"leads/{linkedin_lead}/read"), headers=owner.headers)
    assert read.status_code == 204
    before, before_counts = await state(db, owner.workspace_id), await counts(api, owner)
    merged = await api.post(
        owner.url(f"leads/{sms_lead}/merge"),
        json={"other_lead_id": linkedin_lead},
        headers=owner.headers,
    )
    assert merged.status_code == 200, merged.text
    assert (await state(db, owner.workspace_id))["reads"] == []
    undone = await api.post(
        owner.url(f"leads/{sms_lead}/unmerge"),
        json={"merge_id": merged.json()["merge"]["id"]},
        headers=owner.headers,
    )
    assert undone.status_code == 200, undone.text
    assert await state(db, owner.workspace_id) == before
    assert await counts(api, owner) == before_counts


async def test_split_moves_an_identity_and_its_messages_and_is_reversible(
    db: Database, api: httpx.AsyncClient, owner: Member
) -> None:
    ws = owner.workspace_id
    await db_set_owner(db, ws)
    lead = (await run(db, ws, "emailbison", dana_with_phone_and_linkedin())).lead_id
    await run(db, ws, "ghl", sample("ghl", "inbound_sms"))
    await run(db, ws, "unipile", sample("unipile", "message_received"))
    before, before_counts = await state(db, ws), await counts(api, owner)
    before_timeline = await timeline(api, owner, lead or 0)
    identities = (
        await api.get(owner.url(f"leads/{lead}/identities"), headers=owner.headers)
    ).json()
    phone = next(i for i in identities["items"] if i["kind"] == "phone")
    assert phone["value"] == "+15125550143"
    resp = await api.post(
        owner.url(f"leads/{lead}/split"), json={"identity_id": phone["id"]}, headers=owner.headers
    )
    assert resp.status_code == 200, resp.text
    new = resp.json()["lead"]
    assert (new["phone_e164"], new["first_name"], new["last_inbound_channel"]) == (
        "+15125550143",
        "Dana",
        "sms",
    )
    old = (await api.get(owner.url(f"leads/{lead}"), headers=owner.headers)).json()
    assert old["phone_e164"] is None and old["last_inbound_channel"] == "linkedin"
    split_convo = await api.get(owner.url(f"leads/{new['id']}/messages"), headers=owner.headers)
    assert [m["channel"] for m in split_convo.json()["items"]] == ["sms"]
    assert (await counts(api, owner))["total_leads"] == before_counts["total_leads"] + 1
    split_id = resp.json()["merge"]["id"]
    assert [e["data"] for e in events(await timeline(api, owner, lead or 0), "split")] == [
        {"merge_id": split_id, "identity_id": phone["id"], "new_lead_id": new["id"]}
    ]
    assert [e["data"] for e in events(await timeline(api, owner, new["id"]), "split")] == [
        {"merge_id": split_id, "identity_id": phone["id"], "split_from_lead_id": lead}
    ]
    # Undo: the new lead merges back; the person is as before (the new id answers 301).
    undo = await api.post(
        owner.url(f"leads/{lead}/unmerge"),
        json={"merge_id": resp.json()["merge"]["id"]},
        headers=owner.headers,
    )
    assert undo.status_code == 200, undo.text
    after = await state(db, ws)
    assert after["messages"] == before["messages"] and after["identities"] == before["identities"]
    assert [{k: v for k, v in r.items()} for r in after["leads"]] == before["leads"]
    assert await counts(api, owner) == before_counts
    assert await timeline(api, owner, lead or 0) == before_timeline
    gone = await api.get(owner.url(f"leads/{new['id']}"), headers=owner.headers)
    assert (gone.status_code, gone.json()) == (301, {"merged_into": lead})


async def test_merge_errors_are_4xx(db: Database, api: httpx.AsyncClient, owner: Member) -> None:
    ws = owner.workspace_id
    ids = await _dana(db, ws)
    lead = ids["email_sent"]
    cases = [
        ("merge", {"other_lead_id": lead}, 422),
        ("merge", {"other_lead_id": 10**12}, 404),
        ("merge", {"other_lead_id": "x"}, 422),
        ("merge", {}, 422),
        ("split", {"identity_id": 10**12}, 404),
        ("unmerge", {"merge_id": 10**12}, 404),
    ]
    for action, body, status in cases:
        resp = await api.post(owner.url(f"leads/{lead}/{action}"), json=body, headers=owner.headers)
        assert resp.status_code == status, (action, body, resp.text)
        assert "error" in resp.json()
    sms = ids["inbound_sms"]
    identities = (await api.get(owner.url(f"leads/{sms}/identities"), headers=owner.headers)).json()
    # The SMS lead has a phone and a contact id: split one, then the other is its only one.
    first = identities["items"][0]["id"]
    ok = await api.post(
        owner.url(f"leads/{sms}/split"), json={"identity_id": first}, headers=owner.headers
    )
    assert ok.status_code == 200, ok.text
    last = identities["items"][1]["id"]
    only = await api.post(
        owner.url(f"leads/{sms}/split"), json={"identity_id": last}, headers=owner.headers
    )
    assert only.status_code == 409


@pytest.mark.parametrize(
    ("q", "which"),
    [
        ("+1512", "inbound_sms"),
        ("+1 (512) 555-0143", "inbound_sms"),
        ("0015125550143", "inbound_sms"),
        ("15125550", "inbound_sms"),
        ("ct_91XbQe", "inbound_sms"),
        ("https://www.linkedin.com/in/Dana-Reyes-Example/", "message_received"),
        ("ACoAAB1x2", "message_received"),
        ("d.reyes@", "untracked_reply_received"),
    ],
)
async def test_search_by_any_identity(
    db: Database, api: httpx.AsyncClient, owner: Member, q: str, which: str
) -> None:
    ids = await _dana(db, owner.workspace_id)
    resp = await api.get(owner.url("leads"), params={"q": q}, headers=owner.headers)
    assert resp.status_code == 200, resp.text
    assert [lead["id"] for lead in resp.json()["items"]] == [ids[which]]
