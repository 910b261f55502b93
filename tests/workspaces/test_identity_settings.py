"""The identity settings API: the phone region and variable names new events are read with."""

from __future__ import annotations

from fastapi import FastAPI

from replydesk.core.db import Database
from tests.leads.test_identity import dana_with_phone_and_linkedin, leads_of
from tests.leads.test_processing import run
from tests.support.http import https_client, login
from tests.support.members import add_member, new_workspace_owner

PATH = "/api/v1/workspaces/{ws}/settings/identity"


async def test_admins_read_and_change_the_identity_settings(app: FastAPI, db: Database) -> None:
    owner = await new_workspace_owner(db, "Acme", "sam@acme.example")
    url = PATH.format(ws=owner.workspace_id)
    async with https_client(app) as client:
        current = await client.get(url, headers=owner.headers)
        assert current.status_code == 200, current.text
        assert current.json()["default_phone_region"] == "US"
        assert "mobile" in current.json()["phone_variables"]
        changed = await client.patch(
            url,
            json={"default_phone_region": "gb", "phone_variables": [" Handy ", "handy", "cell"]},
            headers=owner.headers,
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["default_phone_region"] == "GB"
        assert changed.json()["phone_variables"] == ["handy", "cell"]
        assert changed.json()["linkedin_variables"] == current.json()["linkedin_variables"]
        for bad, names in [
            ({"default_phone_region": "XX"}, "default_phone_region"),
            ({"phone_variables": []}, "phone_variables"),
            ({"phone_variables": [""]}, "phone_variables"),
            ({"linkedin_variables": ["x" * 65]}, "linkedin_variables"),
            ({"region": "GB"}, "region"),
        ]:
            resp = await client.patch(url, json=bad, headers=owner.headers)
            assert resp.status_code == 422, (bad, resp.text)
            assert names in resp.json()["error"]["message"], resp.text
        assert (await client.get(url, headers=owner.headers)).json() == changed.json()


async def test_members_and_other_workspaces_cannot_change_them(app: FastAPI, db: Database) -> None:
    owner = await new_workspace_owner(db, "Acme", "sam@acme.example")
    rival = await new_workspace_owner(db, "Rival", "lee@rival.example")
    await add_member(db, owner.workspace_id, "kim@acme.example", "member")
    url = PATH.format(ws=owner.workspace_id)
    async with https_client(app) as client:
        csrf = await login(client, "kim@acme.example")
        member = await client.patch(
            url, json={"default_phone_region": "GB"}, headers={"X-CSRF-Token": csrf}
        )
        assert member.status_code == 403, member.text
    async with https_client(app) as client:
        other = await client.patch(url, json={"default_phone_region": "GB"}, headers=rival.headers)
        assert other.status_code == 404, other.text
        assert (await client.get(url, headers=owner.headers)).json()["default_phone_region"] == "US"


async def test_new_events_are_read_with_the_changed_settings(app: FastAPI, db: Database) -> None:
    owner = await new_workspace_owner(db, "Acme", "sam@acme.example")
    async with https_client(app) as client:
        resp = await client.patch(
            PATH.format(ws=owner.workspace_id),
            json={"default_phone_region": "GB", "phone_variables": ["handy"]},
            headers=owner.headers,
        )
        assert resp.status_code == 200, resp.text
    sent = dana_with_phone_and_linkedin(handy="020 7946 0958")
    await run(db, owner.workspace_id, "emailbison", sent)
    [lead] = await leads_of(db, owner.workspace_id)
    # "Mobile" is no longer a phone variable; "handy" is, read as a British number.
    assert lead["phone_e164"] == "+442079460958"
