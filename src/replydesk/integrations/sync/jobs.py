"""``lead.sync`` and ``emailbison.reconcile``: read credentials in a short transaction, call the
providers in ``prepare`` (no transaction held, under a time budget), store what came back in
``apply`` through the webhook handlers (same unique keys as webhooks)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.core.crypto import KeyRing, UnreadableSecret
from replydesk.core.db import Database
from replydesk.core.errors import ProviderCategory, ProviderFailure
from replydesk.core.log_categories import LogCategory
from replydesk.core.logging import get_logger
from replydesk.core.settings import Settings
from replydesk.core.urlguard import guarded_client
from replydesk.integrations.credentials import service as credentials
from replydesk.integrations.credentials.checks import HealthResult, ProviderCredentials
from replydesk.integrations.credentials.vocabulary import HealthStatus, Integration
from replydesk.integrations.emailbison.client import EmailBisonClient
from replydesk.integrations.ghl.client import GhlClient, SmsSkipped
from replydesk.integrations.provider_client import CallPolicy
from replydesk.integrations.sync import convert, service
from replydesk.integrations.sync.convert import PulledEvent
from replydesk.integrations.sync.vocabulary import SyncJob
from replydesk.integrations.unipile.client import UnipileClient
from replydesk.leads import service as leads
from replydesk.leads.vocabulary import IdentityKind
from replydesk.queue.errors import PermanentError
from replydesk.queue.queues import JOBS, ClaimedItem
from replydesk.queue.registry import Registry

log = get_logger(__name__)


@dataclass
class Pulled:
    events: list[PulledEvent] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)
    cursor: int | None = None
    complete: bool = True
    skip: str | None = None
    # A refusal that says the credentials are wrong: recorded as the integration's health.
    health: HealthResult | None = None
    version: int | None = None


def _workspace(item: ClaimedItem) -> uuid.UUID:
    if item.workspace_id is None:
        raise PermanentError(f"{item.kind} without a workspace")
    return item.workspace_id


class _ProviderJob:
    def __init__(self, db: Database, settings: Settings, policy: CallPolicy | None) -> None:
        self.db, self.settings = db, settings
        self.policy = policy or CallPolicy.from_settings(settings)
        self._keyring: KeyRing | None = None

    @property
    def keyring(self) -> KeyRing:
        if self._keyring is None:
            self._keyring = KeyRing.from_settings(self.settings)
        return self._keyring

    async def _credentials(
        self, session: AsyncSession, ws: uuid.UUID, provider: Integration
    ) -> ProviderCredentials | None:
        try:
            loaded = await credentials.load_credentials(session, self.keyring, ws, provider)
        except UnreadableSecret as exc:
            raise PermanentError(str(exc), category="secret_unreadable") from None
        return None if loaded is None else loaded.credentials


class LeadSyncJob(_ProviderJob):
    async def prepare(self, item: ClaimedItem) -> Pulled:
        ws = _workspace(item)
        lead_id = int(item.payload["lead_id"])
        async with self.db.session() as session:
            identities = await leads.lead_identities(session, ws, lead_id)
            if identities is None:
                return Pulled(skip=f"lead {lead_id} no longer exists (merged or deleted)")
            bison = await self._credentials(session, ws, Integration.EMAILBISON)
            ghl = await self._credentials(session, ws, Integration.GHL)
            unipile = await self._credentials(session, ws, Integration.UNIPILE)
            polling = await service.emailbison_polling_allowed(session, ws)
            linkedin = await service.polling_allowed(session, ws, Integration.UNIPILE)
            chats = await leads.linkedin_chats(session, ws, lead_id)
        pulled = Pulled()
        async with asyncio.timeout(self.settings.lead_sync_budget_s):
            async with guarded_client(self.settings) as http:
                await self._emailbison(item, pulled, bison if polling else None, identities, http)
                await self._ghl(item, pulled, ghl, identities, http)
                await self._unipile(item, pulled, unipile if linkedin else None, chats, http)
        return pulled

    def _failed(self, item: ClaimedItem, pulled: Pulled, name: str, exc: ProviderFailure) -> None:
        if exc.retryable and item.attempts < item.max_attempts:
            raise exc
        pulled.report[name] = {"status": "failed", "category": exc.category, "reason": str(exc)}

    async def _emailbison(
        self,
        item: ClaimedItem,
        pulled: Pulled,
        creds: ProviderCredentials | None,
        identities: dict[str, list[str]],
        http: Any,
    ) -> None:
        ids = identities.get(IdentityKind.EMAILBISON_LEAD.value, [])
        emails = identities.get(IdentityKind.EMAIL.value, [])
        if creds is None:
            pulled.report["emailbison"] = {
                "status": "skipped",
                "reason": "not configured or auth_failed",
            }
            return
        if not ids or not emails:
            pulled.report["emailbison"] = {"status": "skipped", "reason": "no EmailBison lead id"}
            return
        client = EmailBisonClient(
            creds.settings["base_url"], creds.secret["api_key"], http=http, policy=self.policy
        )
        bison_id, email = int(ids[0]), emails[0]
        try:
            replies = await client.lead_replies(bison_id)
            sent = await client.sent_emails(bison_id)
        except ProviderFailure as exc:
            self._failed(item, pulled, "emailbison", exc)
            return
        pulled.events += [convert.emailbison_reply(r, email) for r in replies]
        pulled.events += [convert.emailbison_sent(e, bison_id, email) for e in sent]
        pulled.report["emailbison"] = {"status": "ok", "items": len(replies) + len(sent)}

    async def _ghl(
        self,
        item: ClaimedItem,
        pulled: Pulled,
        creds: ProviderCredentials | None,
        identities: dict[str, list[str]],
        http: Any,
    ) -> None:
        contacts = identities.get(IdentityKind.GHL_CONTACT.value, [])
        phones = identities.get(IdentityKind.PHONE.value) or []
        phone = phones[0] if phones else None
        if creds is None:
            pulled.report["ghl"] = {"status": "skipped", "reason": "not configured"}
            return
        if not contacts:
            pulled.report["ghl"] = {"status": "skipped", "reason": "no GHL contact id"}
            return
        location = creds.settings.get("location_id")
        client = GhlClient(
            creds.settings.get("base_url"),
            creds.secret["api_key"],
            str(location),
            http=http,
            policy=self.policy,
        )
        try:
            history = await client.conversation_history(contacts[0], phone=phone)
        except ProviderFailure as exc:
            self._failed(item, pulled, "ghl", exc)
            return
        if isinstance(history, SmsSkipped):
            pulled.report["ghl"] = {"status": "skipped", "reason": history.reason}
            return
        pulled.events += [
            convert.ghl_message(m, contacts[0], phone, location) for m in history.messages
        ]
        pulled.report["ghl"] = {"status": "ok", "items": len(history.messages)}

    async def _unipile(
        self,
        item: ClaimedItem,
        pulled: Pulled,
        creds: ProviderCredentials | None,
        chats: list[tuple[str, str]],
        http: Any,
    ) -> None:
        """The history of each Unipile chat recorded on the lead's LinkedIn identities."""
        if creds is None:
            pulled.report["unipile"] = {
                "status": "skipped",
                "reason": "not configured, disconnected or auth_failed",
            }
            return
        if not chats:
            reason = "no Unipile chat id is stored for the lead (no LinkedIn message seen yet)"
            log.debug(
                "lead_sync_skipped",
                provider="unipile",
                lead_id=item.payload["lead_id"],
                reason=reason,
            )
            pulled.report["unipile"] = {"status": "skipped", "reason": reason}
            return
        account = creds.settings.get("account_id")
        client = UnipileClient(
            creds.settings["base_url"], creds.secret["api_key"], http=http, policy=self.policy
        )
        events: list[PulledEvent] = []
        complete = True
        try:
            for provider_id, chat_id in chats:
                history = await client.chat_history(
                    chat_id, max_pages=self.settings.lead_sync_chat_pages
                )
                complete = complete and history.complete
                events += [
                    convert.unipile_message(m, chat_id, provider_id, account)
                    for m in reversed(history.messages)  # oldest first, as webhooks came
                ]
        except ProviderFailure as exc:
            self._failed(item, pulled, "unipile", exc)
            return
        pulled.events += events
        pulled.report["unipile"] = {
            "status": "ok",
            "items": len(events),
            "chats": len(chats),
            "complete": complete,
        }

    async def apply(self, session: AsyncSession, item: ClaimedItem) -> str | None:
        pulled: Pulled = item.prepared
        if pulled.skip is not None:
            return pulled.skip
        ws = _workspace(item)
        lead_id, seq = int(item.payload["lead_id"]), int(item.payload.get("seq") or 0)
        applied = await service.finish_sync(session, ws, lead_id, seq, pulled.events, pulled.report)
        log.info(
            "lead_synced",
            workspace_id=str(ws),
            lead_id=lead_id,
            seen=applied.seen,
            created=applied.created,
            skipped=applied.skipped,
        )
        return None


class ReconcileJob(_ProviderJob):
    async def prepare(self, item: ClaimedItem) -> Pulled:
        ws = _workspace(item)
        async with self.db.session() as session:
            if not await service.emailbison_polling_allowed(session, ws):
                return Pulled(skip="EmailBison is not configured or its health is auth_failed")
            try:
                loaded = await credentials.load_credentials(
                    session, self.keyring, ws, Integration.EMAILBISON
                )
            except UnreadableSecret as exc:
                raise PermanentError(str(exc), category="secret_unreadable") from None
            cursor = await service.reconcile_cursor(session, ws)
        if loaded is None:
            return Pulled(skip="EmailBison is not configured")
        creds = loaded.credentials
        try:
            async with asyncio.timeout(self.settings.reconcile_budget_s):
                async with guarded_client(self.settings) as http:
                    client = EmailBisonClient(
                        creds.settings["base_url"],
                        creds.secret["api_key"],
                        http=http,
                        policy=self.policy,
                    )
                    found = await client.list_replies_since(
                        cursor, max_pages=self.settings.reconcile_max_pages
                    )
        except ProviderFailure as exc:
            if exc.category != ProviderCategory.AUTH:
                raise
            # The key is refused: auth_failed stops polling until the credentials change.
            refused = HealthResult(HealthStatus.AUTH_FAILED, exc.category, str(exc))
            return Pulled(skip=f"EmailBison refused the key: {exc}", health=refused,
                          version=loaded.version)  # fmt: skip
        events = [convert.emailbison_reply(r) for r in found.replies]
        return Pulled(events=events, cursor=found.cursor, complete=found.complete)

    async def apply(self, session: AsyncSession, item: ClaimedItem) -> str | None:
        pulled: Pulled = item.prepared
        ws = _workspace(item)
        if pulled.health is not None and pulled.version is not None:
            await credentials.record_check(
                session, ws, Integration.EMAILBISON, pulled.version, pulled.health
            )
        if pulled.skip is not None:
            return pulled.skip
        applied = await service.record_reconciliation(
            session, ws, pulled.events, pulled.cursor, pulled.complete
        )
        fields = {
            "workspace_id": str(ws),
            "seen": applied.seen,
            "recovered": applied.created,
            "cursor": pulled.cursor,
        }
        if not pulled.complete:
            # More new replies than the page bound: the oldest of them were not reached.
            log.warning(
                "emailbison_reconcile_gap",
                category=LogCategory.OTHER,
                error_class="reconcile_gap",
                **fields,
            )
        elif applied.created:
            log.info("emailbison_reconciled", **fields)
        else:
            log.debug("emailbison_reconciled", **fields)
        return None


def register(
    registry: Registry, settings: Settings, db: Database | None, policy: CallPolicy | None = None
) -> None:
    if db is None:
        return
    sync = LeadSyncJob(db, settings, policy)
    registry.add(JOBS.name, SyncJob.LEAD_SYNC.value, sync.apply, prepare=sync.prepare)
    reconcile = ReconcileJob(db, settings, policy)
    registry.add(
        JOBS.name, SyncJob.EMAILBISON_RECONCILE.value, reconcile.apply, prepare=reconcile.prepare
    )
