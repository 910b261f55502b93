"""``replydesk demo``: a living inbox in one command.

One process, one event loop: the embedded PostgreSQL in a throw-away data folder, the provider
simulator on a loopback port, the app with its in-process worker, and a stream of webhooks into
a demo workspace. The workspace's EmailBison, GHL, Unipile and Slack integrations point at the
simulator, so replies sent from the inbox are really delivered (to the simulator); Unipile
answers 401 ``disconnected_account``, so LinkedIn is health-gated and the banner shows.
Ctrl-C stops the server, the simulator and the database and deletes the folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import secrets
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx

from replydesk.app import create_app
from replydesk.auth import service as auth_service
from replydesk.cli.common import migrated_url
from replydesk.core.crypto import KeyRing
from replydesk.core.db import Database
from replydesk.core.embedded import stop_embedded
from replydesk.core.server import serving
from replydesk.core.settings import Settings
from replydesk.integrations.credentials import service as credentials
from replydesk.integrations.credentials.vocabulary import Integration
from replydesk.sim.server import SimServer
from replydesk.sim.traffic import REPLIES, Payloads, Scope, TrafficConfig, run_traffic

DEMO_EMAIL = "demo@replydesk.example"
DEMO_KEYS = {
    "emailbison": "demo|emailbison-key-0001",
    "ghl": "pit-demo-ghl-key-0001",
    "unipile": "demo.unipile.key.0001",
}
SCOPE = Scope()


@dataclass(frozen=True)
class DemoOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    rate: float = 0.5  # webhooks per second after the opening set
    seed: int | None = None


@dataclass(frozen=True)
class DemoWorkspace:
    workspace_id: uuid.UUID
    webhook_token: str
    password: str  # new for every demo (its database lives only as long as the demo)


def demo_settings(base: Settings, data_dir: Path, options: DemoOptions) -> Settings:
    """The instance's settings with the demo's own embedded database and loopback providers."""
    return base.model_copy(
        update={
            "database_url": None,
            "database_direct_url": None,
            "database_pool_mode": "session",
            "data_dir": data_dir,
            "secret_key": None,
            "secret_key_old": None,
            "outbound_allow_private": True,  # the simulator is on loopback
            "cookie_secure": False,  # served over plain http
            "host": options.host,
            "port": options.port,
        }
    )


async def seed_workspace(db: Database, settings: Settings, sim: SimServer) -> DemoWorkspace:
    """The demo owner (with a password), their workspace, and every integration pointing at
    the simulator; the first health checks are queued (the worker runs them)."""
    keyring = KeyRing.from_settings(settings)
    password = secrets.token_urlsafe(9)
    async with db.session() as session:
        created = await auth_service.create_workspace(session, "Demo agency", DEMO_EMAIL)
        await auth_service.save_user(
            session,
            DEMO_EMAIL,
            password=password,
            display_name="Demo operator",
            reset_password=True,
        )
        for provider, conf, secret in _integrations(sim):
            valid = credentials.Validated(conf, secret, next(iter(secret)))
            await credentials.store_validated(
                session, keyring, created.workspace_id, provider, valid
            )
    return DemoWorkspace(created.workspace_id, created.webhook_token, password)


def _integrations(sim: SimServer) -> list[tuple[Integration, dict[str, str], dict[str, str]]]:
    return [
        (
            Integration.EMAILBISON,
            {"base_url": sim.base_url("emailbison")},
            {"api_key": DEMO_KEYS["emailbison"]},
        ),
        (
            Integration.GHL,
            {"base_url": sim.base_url("ghl"), "location_id": SCOPE.ghl_location_id},
            {"api_key": DEMO_KEYS["ghl"]},
        ),
        (
            Integration.UNIPILE,
            {"base_url": sim.base_url("unipile"), "account_id": SCOPE.unipile_account_id},
            {"api_key": DEMO_KEYS["unipile"]},
        ),
        (Integration.SLACK, {}, {"webhook_url": sim.base_url("slack")}),
    ]


async def disconnect_linkedin(sim: SimServer) -> None:
    """The LinkedIn account is 'disconnected' at Unipile: every call answers 401."""
    async with httpx.AsyncClient() as client:
        resp = await client.post(
            f"{sim.url}/_sim/faults",
            json={"provider": "unipile", "status": 401, "type": "disconnected_account"},
        )
        resp.raise_for_status()


def opening_deliveries(seed: int | None) -> list[tuple[str, bytes]]:
    """Campaign sends to a few leads, then every reply text once on e-mail and a few on SMS
    and LinkedIn: every category (out-of-office and unsubscribe among them) is in the inbox
    from the first minute."""
    payloads = Payloads(SCOPE, random.Random(seed))
    deliveries = []
    for lead, text in enumerate(REPLIES, start=1):
        payloads.n += 1
        deliveries.append(payloads.campaign_send(lead))
        payloads.n += 1
        provider, body = payloads.reply(lead)
        body["data"]["reply"]["text_body"] = text
        body["data"]["reply"]["html_body"] = f"<p>{text}</p>"
        deliveries.append((provider, body))
    for lead in range(1, 4):
        payloads.n += 1
        deliveries.append(payloads.sms(len(REPLIES) + lead))
        payloads.n += 1
        deliveries.append(payloads.linkedin(len(REPLIES) + 3 + lead))
    return [(provider, json.dumps(body).encode()) for provider, body in deliveries]


async def send_traffic(base_url: str, ws: DemoWorkspace, options: DemoOptions) -> None:
    headers = {"content-type": "application/json", "x-webhook-token": ws.webhook_token}
    async with httpx.AsyncClient(timeout=10) as client:
        for provider, body in opening_deliveries(options.seed):
            await client.post(
                f"{base_url}/webhooks/{provider}/{ws.workspace_id}", content=body, headers=headers
            )
        if options.rate <= 0:
            return
        config = TrafficConfig(
            base_url,
            str(ws.workspace_id),
            ws.webhook_token,
            rate=options.rate,
            count=10**9,  # until Ctrl-C
            scope=SCOPE,
            seed=options.seed,
        )
        await run_traffic(config, client)


async def _serve(settings: Settings, url: str, options: DemoOptions) -> None:
    db = Database.from_settings(settings, url)
    try:
        async with SimServer(keys=DEMO_KEYS) as sim:
            ws = await seed_workspace(db, settings, sim)
            await disconnect_linkedin(sim)
            api = create_app(settings, worker=True)
            server = serving(api, settings, host=options.host, port=options.port)
            base_url = f"http://{options.host}:{options.port}"
            serve = asyncio.create_task(server.serve())
            while not server.started and not serve.done():  # noqa: ASYNC110 (uvicorn: a flag)
                await asyncio.sleep(0.05)
            if serve.done():
                await serve  # the bind failed: its error
                return
            print(announcement(base_url, sim.url, ws.password), flush=True)
            traffic = asyncio.create_task(send_traffic(base_url, ws, options))
            try:
                await serve
            finally:
                traffic.cancel()
                with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                    await traffic
    finally:
        await db.dispose()


def announcement(base_url: str, sim_url: str, password: str) -> str:
    return (
        "\nReplyDesk demo is running (Ctrl-C stops it and deletes its data).\n"
        f"  inbox      {base_url}/login\n"
        f"  e-mail     {DEMO_EMAIL}\n"
        f"  password   {password}\n"
        f"  simulator  {sim_url}/_sim/requests (what ReplyDesk sent to the providers)\n"
    )


def run_demo(base: Settings, options: DemoOptions) -> None:
    """Run until interrupted, then stop everything and delete the demo's data folder."""
    data_dir = Path(tempfile.mkdtemp(prefix="replydesk-demo-"))
    settings = demo_settings(base, data_dir, options)
    try:
        url = migrated_url(settings)
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve(settings, url, options))
    finally:
        stop_embedded(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)
