"""One person across channels: hard identities attach events to one lead (real PostgreSQL)."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from replydesk.core.db import Database
from replydesk.leads import identity
from replydesk.leads import merges as lead_merges
from tests.leads.test_processing import run
from tests.support.rows import fetch_rows
from tests.support.samples import sample
from tests.support.workspaces import new_workspace

OWNER = "ACoAAOwnerX"


def dana_with_phone_and_linkedin(**variables: Any) -> dict[str, Any]:
    """Dana's campaign send, her EmailBison lead carrying a phone and a LinkedIn URL as
    custom variables (national format and an un-normalised URL on purpose)."""
    sent = sample("emailbison", "email_sent")
    sent["data"]["lead"]["custom_variables"] = [
        {"name": "Mobile", "value": "(512) 555-0143"},
        {"name": "linkedin_url", "value": "https://linkedin.com/in/Dana-Reyes-Example/"},
        *({"name": k, "value": v} for k, v in variables.items()),
    ]
    return sent


async def leads_of(db: Database, ws: uuid.UUID) -> list[dict[str, Any]]:
    return await fetch_rows(db, "SELECT * FROM leads WHERE workspace_id = :ws ORDER BY id", ws=ws)


async def channels(db: Database, lead_id: int) -> list[str]:
    rows = await fetch_rows(
        db, "SELECT DISTINCT channel FROM messages WHERE lead_id = :id ORDER BY 1", id=lead_id
    )
    return [r["channel"] for r in rows]


def test_normalisation() -> None:
    assert identity.phone("(512) 555-0143") == "+15125550143"
    assert identity.phone("+1 512 555 0143") == "+15125550143"
    assert identity.phone("020 7946 0958", "GB") == "+442079460958"
    assert identity.phone("0049 30 123456") == "+4930123456"
    assert identity.phone("12") is None
    assert identity.phone("not a phone") is None
    assert identity.email("  Dana@Northwind.Example ") == "dana@northwind.example"
    assert identity.linkedin_url("https://www.linkedin.com/in/Dana-X/?trk=1") == (
        "linkedin.com/in/dana-x"
    )
    assert identity.linkedin_url("linkedin.com/in/dana-x") == "linkedin.com/in/dana-x"
    assert identity.linkedin_url("https://evil.example/in/dana-x") is None
    assert identity.linkedin_url("https://www.linkedin.com/company/acme") is None


async def test_email_lead_with_phone_and_linkedin_gets_sms_and_linkedin(db: Database) -> None:
    ws = (await new_workspace(db, unipile_account_provider_id=OWNER)).id
    email = await run(db, ws, "emailbison", dana_with_phone_and_linkedin())
    sms = await run(db, ws, "ghl", sample("ghl", "inbound_sms"))
    linkedin = await run(db, ws, "unipile", sample("unipile", "message_received"))
    assert email.lead_id == sms.lead_id == linkedin.lead_id
    [lead] = await leads_of(db, ws)
    assert await channels(db, lead["id"]) == ["email", "linkedin", "sms"]
    assert (lead["phone_e164"], lead["ghl_contact_id"]) == ("+15125550143", "ct_91XbQe")
    assert lead["linkedin_provider_id"] == "ACoAAB1x2y3"
    kinds = await fetch_rows(
        db, "SELECT kind, value FROM lead_identities WHERE lead_id = :id ORDER BY 1", id=lead["id"]
    )
    assert {(r["kind"], r["value"]) for r in kinds} == {
        ("email", "dana.reyes@northwind.example"),
        ("emailbison_lead", "501"),
        ("phone", "+15125550143"),
        ("linkedin_url", "linkedin.com/in/dana-reyes-example"),
        ("ghl_contact", "ct_91XbQe"),
        ("linkedin_id", "ACoAAB1x2y3"),
    }
    # Each message remembers the identity it came through (a split moves them along).
    through = await fetch_rows(
        db,
        "SELECT m.channel, i.kind FROM messages m JOIN lead_identities i ON i.id = m.identity_id "
        "WHERE m.lead_id = :id ORDER BY 1",
        id=lead["id"],
    )
    assert [(r["channel"], r["kind"]) for r in through] == [
        ("email", "email"),
        ("linkedin", "linkedin_id"),
        ("sms", "phone"),
    ]


async def test_the_same_person_in_the_other_order_is_one_lead(db: Database) -> None:
    ws = (await new_workspace(db, unipile_account_provider_id=OWNER)).id
    sms = await run(db, ws, "ghl", sample("ghl", "inbound_sms"))
    email = await run(db, ws, "emailbison", dana_with_phone_and_linkedin())
    assert sms.lead_id == email.lead_id
    linkedin = await run(db, ws, "unipile", sample("unipile", "message_received"))
    assert linkedin.lead_id == email.lead_id
    assert len(await leads_of(db, ws)) == 1


async def test_variable_names_and_phone_region_are_workspace_settings(db: Database) -> None:
    ws = (
        await new_workspace(
            db, default_phone_region="GB", phone_variables=["handy"], linkedin_variables=[]
        )
    ).id
    sent = dana_with_phone_and_linkedin(handy="020 7946 0958")
    lead = (await run(db, ws, "emailbison", sent)).lead_id
    rows = await fetch_rows(
        db, "SELECT kind, value FROM lead_identities WHERE lead_id = :id", id=lead
    )
    found = {(r["kind"], r["value"]) for r in rows}
    assert ("phone", "+442079460958") in found
    assert not {k for k, _ in found} & {"linkedin_url"}  # not a configured variable here
    assert ("phone", "+15125550143") not in found  # "mobile" is not configured here


async def test_ghl_contact_email_attaches_to_the_email_lead(db: Database) -> None:
    ws = (await new_workspace(db)).id
    email = await run(db, ws, "emailbison", sample("emailbison", "lead_replied"))
    sms = sample("ghl", "inbound_sms")
    sms["email"] = "Dana.Reyes@Northwind.example"
    assert (await run(db, ws, "ghl", sms)).lead_id == email.lead_id


async def test_an_event_bridging_two_leads_merges_them_reversibly(db: Database) -> None:
    ws = (await new_workspace(db, unipile_account_provider_id=OWNER)).id
    sms = await run(db, ws, "ghl", sample("ghl", "inbound_sms"))
    linkedin = await run(db, ws, "unipile", sample("unipile", "message_received"))
    assert sms.lead_id != linkedin.lead_id
    # Dana's e-mail lead carries both the phone and the LinkedIn URL: it bridges the two.
    email = await run(db, ws, "emailbison", dana_with_phone_and_linkedin())
    survivor, absorbed = sorted([sms.lead_id or 0, linkedin.lead_id or 0])
    assert email.lead_id == survivor
    assert [lead["id"] for lead in await leads_of(db, ws)] == [survivor]
    assert await channels(db, survivor) == ["email", "linkedin", "sms"]
    assert await fetch_rows(db, "SELECT * FROM lead_merge_suggestions") == []
    merges = await fetch_rows(
        db, "SELECT kind, surviving_lead_id, absorbed_lead_id, actor_user_id FROM lead_merges"
    )
    assert merges == [
        {
            "kind": "merge",
            "surviving_lead_id": survivor,
            "absorbed_lead_id": absorbed,
            "actor_user_id": None,
        }
    ]
    entries = await fetch_rows(
        db, "SELECT lead_id, actor_user_id, data FROM lead_events WHERE kind = 'merge'"
    )
    merge_id = (await fetch_rows(db, "SELECT id FROM lead_merges"))[0]["id"]
    assert entries == [
        {
            "lead_id": survivor,
            "actor_user_id": None,
            "data": {"merge_id": merge_id, "absorbed_lead_id": absorbed},
        }
    ]
    # Replaying the bridging event changes nothing.
    await run(db, ws, "emailbison", copy.deepcopy(dana_with_phone_and_linkedin()))
    assert len(await leads_of(db, ws)) == 1
    assert len(await fetch_rows(db, "SELECT * FROM lead_merges")) == 1
    # Like any merge, it can be undone: the LinkedIn lead comes back with its message.
    async with db.session() as session:
        await lead_merges.unmerge(session, ws, survivor, merge_id, None)
    assert [lead["id"] for lead in await leads_of(db, ws)] == [survivor, absorbed]
    assert absorbed == linkedin.lead_id  # the SMS came first
    assert await channels(db, absorbed) == ["linkedin"]
    assert await channels(db, survivor) == ["email", "sms"]
    assert await fetch_rows(db, "SELECT id FROM lead_events WHERE kind = 'merge'") == []


async def test_dana_samples_stay_several_leads(db: Database) -> None:
    ws = (await new_workspace(db, unipile_account_provider_id=OWNER)).id
    for provider, name in [
        ("emailbison", "email_sent"),
        ("emailbison", "lead_replied"),
        ("emailbison", "untracked_reply_received"),
        ("ghl", "inbound_sms"),
        ("unipile", "message_received"),
    ]:
        await run(db, ws, provider, sample(provider, name))
    emails = {r["email"] for r in await leads_of(db, ws)}
    assert len(await leads_of(db, ws)) == 4
    assert {"dana.reyes@northwind.example", "d.reyes@northwind-group.example"} <= emails
