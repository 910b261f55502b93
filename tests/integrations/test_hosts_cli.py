"""`replydesk integrations hosts list | add | remove` and the allowlist it feeds."""

from __future__ import annotations

import json
import os
import subprocess

import httpx
import pytest

from replydesk.core.db import Database
from tests.support.cli import run_replydesk
from tests.support.members import new_workspace_owner

SEEDED = ["send.foundersclubsend.com", "send.meetinboxxia.com"]


def _cli(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "REPLYDESK_DATABASE_URL"}
    env["DATABASE_URL"] = url
    return run_replydesk("integrations", "hosts", *args, env=env)


async def test_hosts_commands_manage_the_allowlist(
    database_url: str, db: Database, client: httpx.AsyncClient
) -> None:
    listed = _cli("list", "--json", url=database_url)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == {"hosts": SEEDED}

    added = _cli("add", "Mail.Example.com.:8443", url=database_url)
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "mail.example.com:8443: added"
    again = _cli("add", "mail.example.com:8443", "--json", url=database_url)
    assert json.loads(again.stdout) == {"host": "mail.example.com:8443", "added": False}

    owner = await new_workspace_owner(db, "Acme", "owner@acme.example")
    body = {"base_url": "https://mail.example.com:8443", "api_key": "k-1234567890"}
    put = await client.put(owner.url("integrations/emailbison"), json=body, headers=owner.headers)
    assert put.status_code == 200, put.text
    listing = (await client.get(owner.url("integrations"), headers=owner.headers)).json()
    assert listing["emailbison_allowed_hosts"] == ["mail.example.com:8443", *SEEDED]

    removed = _cli("remove", "mail.example.com:8443", url=database_url)
    assert removed.returncode == 0 and removed.stdout.strip() == "mail.example.com:8443: removed"
    put = await client.put(owner.url("integrations/emailbison"), json=body, headers=owner.headers)
    assert put.status_code == 422
    assert "allowed hosts: send.foundersclubsend.com, send.meetinboxxia.com" in put.text

    missing = _cli("remove", "mail.example.com:8443", url=database_url)
    assert missing.returncode == 1 and "not on the EmailBison host allowlist" in missing.stderr
    bad = _cli("add", "https://x.example.com/path", url=database_url)
    assert bad.returncode == 1 and "HOST[:PORT]" in bad.stderr
    bad_port = _cli("add", "x.example.com:70000", url=database_url)
    assert bad_port.returncode == 1 and "between 1 and 65535" in bad_port.stderr


async def test_reencrypt_finishes_a_key_rotation(database_url: str, db: Database) -> None:
    from cryptography.fernet import Fernet

    from replydesk.core.crypto import KeyRing, UnreadableSecret
    from replydesk.core.settings import Settings
    from replydesk.core.urlguard import OutboundPolicy
    from replydesk.integrations.credentials import service
    from replydesk.integrations.credentials.schemas import GhlIn
    from replydesk.integrations.credentials.vocabulary import Integration

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    old_ring = KeyRing.from_settings(Settings(database_url=database_url, secret_key=old))
    new_only = KeyRing.from_settings(Settings(database_url=database_url, secret_key=new))
    owners = [await new_workspace_owner(db, f"W{n}", f"o{n}@w.example") for n in range(3)]
    async with db.session() as session:
        for owner in owners:
            body = GhlIn(location_id="loc", api_key=f"pit-rotation-key-{owner.workspace_id}")
            await service.put_integration(
                session, old_ring, OutboundPolicy(), owner.workspace_id, Integration.GHL, body
            )
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPLYDESK_")}
    env.update(DATABASE_URL=database_url, REPLYDESK_SECRET_KEY=new, REPLYDESK_SECRET_KEY_OLD=old)
    done = run_replydesk("integrations", "reencrypt", "--chunk", "2", env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"reencrypted": 3}
    async with db.session() as session:
        for owner in owners:
            subject = await service.load_credentials(
                session, new_only, owner.workspace_id, Integration.GHL
            )
            assert subject is not None
            assert subject.credentials.secret["api_key"] == f"pit-rotation-key-{owner.workspace_id}"
            assert subject.version == 1
            with pytest.raises(UnreadableSecret):
                await service.load_credentials(
                    session, old_ring, owner.workspace_id, Integration.GHL
                )
