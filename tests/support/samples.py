"""Provider webhook payloads: the stored samples and payloads built from them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# Copies of ../shared/samples (one webhook payload per provider event), shared by the tests.
SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def sample(provider: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SAMPLES / provider / f"{name}.json").read_text())
    return data


def all_samples() -> list[tuple[str, str, dict[str, Any]]]:
    """(provider, event name, payload) for every stored sample plus the event types the
    providers document but the sample set lacks (derived from the closest sample)."""
    out = [
        (path.parent.name, path.stem, json.loads(path.read_text()))
        for path in sorted(SAMPLES.glob("*/*.json"))
    ]
    first = sample("emailbison", "email_sent")
    first["event"]["type"] = "LEAD_FIRST_CONTACTED"
    out.append(("emailbison", "lead_first_contacted", first))
    mailbox = sample("emailbison", "email_sent")
    mailbox["event"]["type"] = "EMAIL_ACCOUNT_DISCONNECTED"
    mailbox["data"] = {"sender_email": mailbox["data"]["sender_email"]}
    out.append(("emailbison", "email_account_disconnected", mailbox))
    read = sample("unipile", "message_received")
    read["event"] = "message_read"
    out.append(("unipile", "message_read", read))
    reaction = sample("unipile", "message_received")
    reaction["event"] = "message_reaction"
    reaction["reaction"] = "👍"
    reaction["reaction_sender"] = {"attendee_provider_id": "ACoAAB1x2y3"}
    out.append(("unipile", "message_reaction", reaction))
    no_id = sample("ghl", "inbound_sms")
    del no_id["messageId"]
    out.append(("ghl", "inbound_sms_without_message_id", no_id))
    return out


def event_type_of(provider: str, payload: dict[str, Any]) -> str:
    if provider == "emailbison":
        return str(payload["event"]["type"]).upper()
    if provider == "ghl":
        return str(payload["type"])
    return str(payload["event"])


def email_sent(i: int, leads: int = 500, sent_at: str = "2026-01-23T18:13:05Z") -> dict[str, Any]:
    """An EMAIL_SENT payload for scheduled e-mail ``i`` to one of ``leads`` leads."""
    n = i % leads
    return {
        "event": {"type": "EMAIL_SENT", "instance_url": "https://bison.test", "workspace_id": 1},
        "data": {
            "scheduled_email": {"id": i, "email_subject": f"Hello {n}", "sent_at": sent_at},
            "campaign_event": {"id": 10_000_000 + i, "type": "sent"},
            "lead": {"id": n, "email": f"lead{n}@example.com", "first_name": f"L{n}"},
        },
    }
