"""Helpers of the reply tests: integrations pointed at the simulator, a lead on every channel,
webhook echoes of our own sends."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from replydesk.core.db import Database
from replydesk.core.settings import Settings
from replydesk.integrations.credentials.vocabulary import Integration
from replydesk.leads import identity
from replydesk.leads import service as leads
from replydesk.leads.vocabulary import IdentityKind
from replydesk.sim.server import SimServer
from tests.support.events import apply_event
from tests.support.integrations import configure_sim
from tests.support.queue import fast_settings
from tests.support.samples import sample

DANA_EMAIL = "dana.reyes@northwind.example"
DANA_PHONE = "+15125550143"
DANA_LINKEDIN = "ACoAAB1x2y3"
UNIPILE_ACCOUNT = "acc_LnK4e"
OWN_LINKEDIN = "ACoAAOwnerX"


def reply_settings(database_url: str, tmp_path: Any, secret_key: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "secret_key": secret_key,
        "outbound_allow_private": True,
        "health_check_timeout_s": 2.0,
        "provider_connect_timeout_s": 1.0,
        "provider_read_timeout_s": 1.0,
        "provider_send_timeout_s": 0.5,
        "provider_retry_budget_s": 3.0,
        "provider_retry_max_attempts": 2,
        "provider_retry_backoff_base_s": 0.01,
        "provider_retry_backoff_cap_s": 0.05,
        "reply_send_gate_recheck_s": 0.3,
        "reply_send_error_backoff_s": 0.1,
        **overrides,
    }
    return fast_settings(database_url, **values)


async def configure(db: Database, settings: Settings, ws: uuid.UUID, sim: SimServer) -> None:
    """EmailBison, GHL and Unipile credentials pointing at the simulator, health ok."""
    for provider in (Integration.EMAILBISON, Integration.GHL, Integration.UNIPILE):
        await configure_sim(db, settings, sim, ws, provider)


async def dana(db: Database, ws: uuid.UUID, *, phone: bool = True, linkedin: bool = True) -> int:
    """Dana replied by e-mail (EmailBison reply 93001, as in the simulator); she also has a
    phone and a LinkedIn id unless told otherwise. Returns her lead id."""
    outcome = await apply_event(db, ws, "emailbison", sample("emailbison", "lead_replied"))
    assert outcome.lead_id is not None
    keys = identity.keys(
        (IdentityKind.EMAIL, DANA_EMAIL),
        (IdentityKind.PHONE, DANA_PHONE if phone else None),
        (IdentityKind.LINKEDIN_ID, DANA_LINKEDIN if linkedin else None),
    )
    async with db.session() as session:
        person = await leads.resolve_lead(session, ws, keys, leads.LeadProfile())
    assert person.lead_id == outcome.lead_id
    return person.lead_id


def echo(channel: str, provider_id: Any, text: str) -> tuple[str, dict[str, Any]]:
    """The provider's webhook for a message we sent (provider, payload)."""
    if channel == "email":
        payload = copy.deepcopy(sample("emailbison", "manual_email_sent"))
        payload["data"]["reply"].update(id=provider_id, text_body=text, html_body=f"<p>{text}</p>")
        return "emailbison", payload
    if channel == "sms":
        payload = copy.deepcopy(sample("ghl", "outbound_sms"))
        payload.update(messageId=provider_id, body=text, to=DANA_PHONE)
        return "ghl", payload
    payload = copy.deepcopy(sample("unipile", "message_received"))
    payload.update(
        message_id=provider_id,
        message=text,
        sender={"attendee_id": "att_0", "attendee_name": "Sam Acme",
                "attendee_provider_id": OWN_LINKEDIN},
        attendees=[{"attendee_id": "att_1", "attendee_name": "Dana Reyes",
                    "attendee_provider_id": DANA_LINKEDIN}],
    )  # fmt: skip
    return "unipile", payload
