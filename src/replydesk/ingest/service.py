"""Webhook ingestion: authenticate, validate, one durable insert, answer.

Nothing here calls a provider, an AI or Slack, and nothing touches leads or messages: workers do
that from ``webhook_events``. The request path runs exactly one statement (the insert) when the
workspace's auth info is cached, two on a cache miss.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, NoReturn, TypeVar

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request

from replydesk.core.body import check_content_length, check_content_type
from replydesk.core.db import Database
from replydesk.core.db_errors import FOREIGN_KEY_VIOLATION, is_bad_row, sqlstate
from replydesk.core.errors import (
    InputTimeout,
    InvalidInput,
    NotFound,
    RateLimited,
    ReplyDeskError,
    Unauthenticated,
    Unavailable,
)
from replydesk.core.http import http_status
from replydesk.core.logging import get_logger
from replydesk.core.outage import OutageLog
from replydesk.core.settings import Settings
from replydesk.ingest import repository
from replydesk.ingest.auth import AuthCache, WorkspaceAuth, token_ok, workspace_auth_from_row
from replydesk.ingest.batcher import GroupCommitter
from replydesk.ingest.body import parse_json_object, read_capped
from replydesk.ingest.slowlog import IngestTrace, SlowLog
from replydesk.ingest.spooling import Spooler, spool_root
from replydesk.integrations.base import PENDING, WebhookProvider

log = get_logger(__name__)
# structlog's lazy proxy builds a bound logger on every call, even for a filtered-out debug
# line; the per-request debug lines ask the stdlib level first (cached by logging).
_std_log = logging.getLogger(__name__)

T = TypeVar("T")

AUTH_FAILED = "invalid or missing webhook token for this workspace"
RETRY_AFTER_S = 5


@dataclass(frozen=True)
class IngestResult:
    status: str  # accepted | ignored | duplicate
    event_id: int | None
    spooled: bool = False  # on local disk (the database is away), replayed later

    HTTP_STATUS: ClassVar[dict[str, int]] = {"accepted": 202, "ignored": 200, "duplicate": 200}

    @property
    def http_status(self) -> int:
        return self.HTTP_STATUS[self.status]

    def body(self) -> dict[str, Any]:
        if self.spooled:
            return {"status": self.status, "spooled": True}
        if self.event_id is None:
            return {"status": self.status}
        return {"status": self.status, "event_id": self.event_id}


def _discard_closed_connections(
    dbapi_connection: Any, connection_record: Any, connection_proxy: Any
) -> None:
    """Pool checkout hook: a connection the server closed while idle is replaced, not used.

    Free (no round trip, unlike pre-ping): asyncpg already knows the socket is closed. So after a
    database restart the first request gets a fresh connection instead of a 503.
    """
    driver = getattr(connection_record, "driver_connection", None)
    is_closed = getattr(driver, "is_closed", None)
    if callable(is_closed) and is_closed():
        raise DisconnectionError("connection was closed while idle in the pool")


def _install_pool_hooks(engine: AsyncEngine) -> None:
    pool = engine.sync_engine.pool
    if not event.contains(pool, "checkout", _discard_closed_connections):
        event.listen(pool, "checkout", _discard_closed_connections)


def _parse_workspace_id(value: str) -> uuid.UUID | None:
    if len(value) > 64:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _error_name(exc: BaseException) -> str:
    """The driver-level exception class, never its text (which may carry SQL parameters)."""
    orig = getattr(exc, "orig", None)
    cause = getattr(orig, "__cause__", None) or orig
    return type(cause).__name__ if cause is not None else type(exc).__name__


class Ingestor:
    """One per app (built in the lifespan): the autocommit ingest engine, the auth cache, the
    outage log, and the providers webhooks may come from."""

    def __init__(
        self, db: Database, settings: Settings, providers: Mapping[str, WebhookProvider]
    ) -> None:
        self.db = db
        self.settings = settings
        self.providers = providers
        _install_pool_hooks(db.ingest_engine)
        # Autocommit: the INSERT is its own transaction, so there is no BEGIN/COMMIT round trip
        # (except behind a transaction-mode pooler, see Database.single_statement_options).
        self.engine = db.ingest_engine.execution_options(**db.single_statement_options)
        self.cache = AuthCache(settings.ingest_auth_cache_ttl_s)
        self.outage = OutageLog()
        self.slow = SlowLog()
        self.committer: GroupCommitter | None = None
        self.spooler: Spooler | None = None  # built by start() when spool_enabled
        if settings.ingest_group_commit:
            self.committer = GroupCommitter(
                self.engine,
                max_rows=settings.ingest_group_commit_max_rows,
                max_flushes=settings.ingest_pool_size,
                flush_budget_s=settings.ingest_budget_s,
            )

    async def start(self) -> None:
        """In the app's lifespan: the outage spool (its folder, its replay task)."""
        if self.settings.spool_enabled and self.spooler is None:
            self.spooler = Spooler(
                spool_root(self.settings.data_dir),
                self.engine,
                self.outage,
                max_bytes=self.settings.spool_max_bytes,
                replay_interval_s=self.settings.spool_replay_interval_s,
                statement_budget_s=self.settings.ingest_budget_s * 2,
            )
            self.spooler.start()

    async def close(self) -> None:
        if self.spooler is not None:
            await self.spooler.close()
            self.spooler = None

    async def ingest(self, provider: str, workspace_id: str, request: Request) -> IngestResult:
        started = time.monotonic()
        trace = IngestTrace(started)
        outcome = "internal_error"
        try:
            try:
                result = await self._ingest(provider, workspace_id, request, trace)
            except Unavailable as exc:
                raise self._outage_answer(provider, exc) from None
            outcome = result.status
        except asyncio.CancelledError:
            outcome = "client_abort"
            raise
        except ReplyDeskError as exc:
            outcome = exc.code
            # 503 = the database is away: the outage itself is logged once, at error.
            status = http_status(exc)
            # (429 is GHL's answer to the same outage.)
            outage = status in (429, 503)
            level = log.debug if outage else log.warning if status >= 500 else log.info
            level(
                "webhook_rejected",
                provider=provider[:40],
                workspace_id=workspace_id[:64],
                status=status,
                code=exc.code,
                reason=exc.message,
            )
            raise
        finally:
            # One counter and one histogram observation: no I/O on the request path.
            label = provider if provider in self.providers else "unknown"
            trace.finish(label, outcome, self.settings)
        self.slow.observe(provider, time.monotonic() - started)
        return result

    def _outage_answer(self, provider: str, exc: Unavailable) -> ReplyDeskError:
        """The database is away: answer with the status the provider retries on (GHL
        retries only on 429), always with ``Retry-After``."""
        spec = self.providers.get(provider)
        if spec is not None and spec.outage_status == 429:
            return RateLimited(exc.message, retry_after_s=exc.retry_after_s or RETRY_AFTER_S)
        return exc

    async def _ingest(
        self, provider: str, raw_workspace_id: str, request: Request, trace: IngestTrace
    ) -> IngestResult:
        spec = self.providers.get(provider)
        if spec is None:
            raise NotFound(
                f"unknown provider {provider[:40]!r}; expected one of {', '.join(self.providers)}"
            )
        deadline = asyncio.get_running_loop().time() + self.settings.ingest_budget_s

        # 1. Authenticate before reading the body.
        token = request.headers.get("x-webhook-token") or request.query_params.get("token")
        workspace_id = _parse_workspace_id(raw_workspace_id)
        auth: WorkspaceAuth | None = None
        if workspace_id is not None and token:
            # A cache hit does not reach the database, so it says nothing about an outage.
            try:
                cached, auth = self.cache.fresh(workspace_id)
                if not cached:
                    auth = self._auth_during_outage(workspace_id) or await self._with_db(
                        deadline, lambda: self.cache.get(workspace_id, self._load), proves_db=False
                    )
            except Unavailable:
                # An expired entry's reload met the outage: the spool may still take it.
                auth = self._auth_during_outage(workspace_id)
                if auth is None:
                    raise
                deadline = asyncio.get_running_loop().time() + self.settings.ingest_budget_s
        if workspace_id is not None and token and not token_ok(auth, token):
            # Maybe rotated (or created) through another process since this one cached it.
            # (During an outage this reload fails: the outage answer, which providers retry.)
            auth = await self._with_db(
                deadline, lambda: self.cache.refresh(workspace_id, self._load), proves_db=False
            )
        if not token_ok(auth, token) or auth is None:
            raise Unauthenticated(AUTH_FAILED)
        trace.step("auth")

        # 2. Size, content type, body (streamed, capped), signature, JSON, shape.
        limit = self.settings.ingest_max_body_bytes
        check_content_length(request.headers.get("content-length"), limit)
        check_content_type(request.headers.get("content-type"))
        try:
            async with asyncio.timeout_at(deadline):
                body = await read_capped(request, limit)
        except TimeoutError:
            raise InputTimeout(
                f"request body not received within {self.settings.ingest_budget_s} s"
            ) from None
        if spec.verify is not None:
            spec.verify(auth.keys.get(provider), body, request.headers)
        trace.step("body")
        payload = parse_json_object(body)
        parsed = spec.parse(payload, auth.scope, datetime.now(UTC))
        trace.step("parse")

        # 3. The one statement.
        new = repository.NewEvent(
            workspace_id=auth.workspace_id,
            provider=provider,
            event_type=parsed.event_type,
            dedupe_key=f"{provider}:{auth.workspace_id}:{parsed.key}",
            status=parsed.status,
            payload=body.decode("utf-8"),
        )
        trace.dedupe_key = new.dedupe_key
        spooler = self.spooler
        if spooler is not None and spooler.bypass_db():
            return await self._spool(spooler, new, None)
        try:
            event_id = await self._insert(deadline, new)
        except Unavailable as exc:
            if spooler is None:
                raise
            return await self._spool(spooler, new, exc)
        if spooler is not None:
            spooler.db_answered()
        trace.step("insert")
        debug = _std_log.isEnabledFor(logging.DEBUG)
        if event_id is None:
            if debug:
                log.debug("webhook_duplicate", provider=provider, event_type=parsed.event_type)
            return IngestResult("duplicate", None)
        status = "accepted" if parsed.status == PENDING else "ignored"
        if not debug:
            return IngestResult(status, event_id)
        log.debug(
            "webhook_stored",
            provider=provider,
            workspace_id=str(auth.workspace_id),
            event_type=parsed.event_type,
            event_id=event_id,
            status=parsed.status,
        )
        return IngestResult(status, event_id)

    def _auth_during_outage(self, workspace_id: uuid.UUID) -> WorkspaceAuth | None:
        """While the database is away and the spool takes events, a cached entry past its TTL
        still authenticates (up to spool_auth_max_age_s); never a workspace not cached."""
        if self.spooler is None or not self.outage.down:
            return None
        return self.cache.last_known(workspace_id, self.settings.spool_auth_max_age_s)

    async def _spool(
        self, spooler: Spooler, new: repository.NewEvent, exc: Unavailable | None
    ) -> IngestResult:
        """The database is away: on disk and 202, or (spool full, disk error) the outage
        answer the request would have had without a spool."""
        if await spooler.append(new, db_failed=exc is not None):
            log.debug("webhook_spooled", provider=new.provider, event_type=new.event_type)
            return IngestResult("accepted", None, spooled=True)
        if exc is not None:
            raise exc
        self.outage.failure("spool_full", "SpoolFull")
        raise outage_answer()

    async def _load(self, workspace_id: uuid.UUID) -> WorkspaceAuth | None:
        row = await repository.load_workspace_auth(self.engine, workspace_id)
        return None if row is None else workspace_auth_from_row(workspace_id, row, self.providers)

    async def _insert(self, deadline: float, new: repository.NewEvent) -> int | None:
        committer = self.committer
        try:
            if committer is not None:
                return await self._with_db(deadline, lambda: committer.insert(new))
            return await self._with_db(deadline, lambda: repository.insert_event(self.engine, new))
        except DBAPIError as exc:
            code = sqlstate(exc)
            if code == FOREIGN_KEY_VIOLATION:
                # The workspace was deleted after its auth info was cached.
                self.cache.invalidate(new.workspace_id)
                raise Unauthenticated(AUTH_FAILED) from None
            raise InvalidInput(
                f"body cannot be stored: PostgreSQL rejected it ({_error_name(exc)}, "
                f"SQLSTATE {code})"
            ) from None

    async def _with_db(
        self, deadline: float, op: Callable[[], Awaitable[T]], *, proves_db: bool = True
    ) -> T:
        """Run ``op`` within the request's budget; every way the database can fail is a 503,
        except a row the database refuses (data or constraint error), which is re-raised.

        One retry, only when the driver reports the connection itself broke (e.g. the first
        use of a connection after a restart) and time remains: the insert is idempotent.
        """
        loop = asyncio.get_running_loop()
        retried = False
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    result = await op()
            except PoolTimeout as exc:
                self._unavailable("pool_exhausted", exc)
            except TimeoutError as exc:
                self._unavailable("timeout", exc)
            except DBAPIError as exc:
                if is_bad_row(exc):
                    self.outage.success()  # the database answered
                    raise
                if exc.connection_invalidated and not retried and loop.time() < deadline - 0.1:
                    retried = True
                    log.debug("ingest_retry_after_disconnect", error=_error_name(exc))
                    continue
                self._unavailable("db_error", exc)
            except OSError as exc:
                self._unavailable("connection_error", exc)
            else:
                if proves_db:
                    self.outage.success()
                return result

    def _unavailable(self, reason: str, exc: BaseException) -> NoReturn:
        self.outage.failure(reason, _error_name(exc))
        raise outage_answer() from None


def outage_answer() -> Unavailable:
    """What a webhook gets when its event could not be stored (database away, spool off or
    full). The one place the outage answer is built."""
    return Unavailable(
        "database unavailable; the event was not stored, retry later",
        retry_after_s=RETRY_AFTER_S,
    )
