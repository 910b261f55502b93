"""One read and one send per provider client, pointed at the simulator, for the shared
contract tests (every status class, the retry matrix, cancellation, no secrets)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from replydesk.integrations.emailbison.client import EmailBisonClient
from replydesk.integrations.ghl.client import GhlClient
from replydesk.integrations.provider_client import ProviderClient
from replydesk.integrations.slack.client import SlackWebhookClient
from replydesk.integrations.unipile.client import UnipileClient
from replydesk.sim.server import SimServer
from tests.support.sim import FAST, SIM_KEYS

Op = Callable[[Any], Awaitable[Any]]


@dataclass(frozen=True)
class Case:
    provider: str
    build: Callable[[SimServer, httpx.AsyncClient], ProviderClient]
    read: Op | None  # a read (retried); None for Slack, which has none
    read_endpoint: str | None
    send: Op
    send_endpoint: str
    # Category of a plain 401/403/404 with the provider's default error body.
    on_401: str = "provider_auth"
    on_403: str = "provider_auth"
    on_404: str = "provider_error"


def _emailbison(sim: SimServer, http: httpx.AsyncClient) -> ProviderClient:
    return EmailBisonClient(
        sim.base_url("emailbison"), SIM_KEYS["emailbison"], http=http, policy=FAST
    )


def _ghl(sim: SimServer, http: httpx.AsyncClient) -> ProviderClient:
    return GhlClient(sim.base_url("ghl"), SIM_KEYS["ghl"], "loc_7Hq2kP", http=http, policy=FAST)


def _unipile(sim: SimServer, http: httpx.AsyncClient) -> ProviderClient:
    return UnipileClient(sim.base_url("unipile"), SIM_KEYS["unipile"], http=http, policy=FAST)


def _slack(sim: SimServer, http: httpx.AsyncClient) -> ProviderClient:
    return SlackWebhookClient(sim.base_url("slack"), http=http, policy=FAST)


CASES = [
    Case(
        "emailbison",
        _emailbison,
        lambda c: c.reply_thread(93001),
        "replies.thread",
        lambda c: c.reply_in_thread(
            93001, "Tuesday works.", sender_email_id=9, to=["dana.reyes@northwind.example"]
        ),
        "replies.reply",
    ),
    Case(
        "ghl",
        _ghl,
        lambda c: c.conversation_id("ct_91XbQe"),
        "conversations.search",
        lambda c: c.send_sms("ct_91XbQe", "Talk at 3:30.", phone="+15125550143"),
        "conversations.send",
    ),
    Case(
        "unipile",
        _unipile,
        lambda c: c.account_status("acc_LnK4e"),
        "accounts.get",
        lambda c: c.send_in_chat("chat_Qw81", "Happy to chat Tuesday."),
        "chats.send",
        on_401="provider_disconnected",
        on_403="provider_disconnected",
    ),
    Case(
        "slack",
        _slack,
        None,
        None,
        lambda c: c.post("ReplyDesk alert"),
        "webhook",
        on_404="provider_disconnected",
    ),
]
READ_CASES = [c for c in CASES if c.read is not None]


def ids(case: Case) -> str:
    return case.provider
