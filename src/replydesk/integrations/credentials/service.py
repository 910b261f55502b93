"""Integration settings: validate, encrypt and store credentials, list them without secrets,
queue health checks, record their results. The only writer of ``integration_credentials``
and ``integration_health`` (statements in ``repository``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import SplitResult, urlunsplit

from pydantic import BaseModel
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.core.crypto import KeyRing
from replydesk.core.errors import InvalidInput, NotFound
from replydesk.core.urlguard import OutboundPolicy, check_url
from replydesk.integrations.credentials import hosts, repository
from replydesk.integrations.credentials.checks import HealthResult, ProviderCredentials
from replydesk.integrations.credentials.schemas import (
    CheckQueued,
    EmailBisonIn,
    GhlIn,
    IntegrationList,
    IntegrationOut,
    LastError,
    OpenAiIn,
    SlackIn,
    UnipileIn,
)
from replydesk.integrations.credentials.vocabulary import HealthStatus, Integration, JobType
from replydesk.queue.service import enqueue, record_alert

# Shortest secret whose last 4 characters may be shown; shorter ones show only "…".
HINT_MIN_LENGTH = 12
SLACK_HOST = "hooks.slack.com"


@dataclass(frozen=True)
class Validated:
    """A PUT body split into what is shown (settings) and what is encrypted (secret)."""

    settings: dict[str, str]
    secret: dict[str, str]
    hint_field: str


def secret_hint(secret: str) -> str:
    return "…" + secret[-4:] if len(secret) >= HINT_MIN_LENGTH else "…"


def _origin(parts: SplitResult, name: str) -> str:
    """A base URL is an origin: scheme, host and port, nothing after (a trailing / is fine)."""
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise InvalidInput(
            f"{name} must be the origin only (scheme, host and port), e.g. "
            f"{parts.scheme}://{parts.netloc}; the client adds the API paths"
        )
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), "", "", ""))


def _api_base(parts: SplitResult, name: str) -> str:
    """An API base URL keeps its path (``/v1``): the SDK appends ``/responses`` to it."""
    if parts.query or parts.fragment:
        raise InvalidInput(f"{name} must not carry a query or a fragment")
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, "", ""))


async def validate(
    session: AsyncSession,
    provider: Integration,
    body: BaseModel,
    policy: OutboundPolicy,
    defaults: dict[str, str] | None = None,
) -> Validated:
    if isinstance(body, EmailBisonIn):
        parts = check_url(body.base_url, policy, name="base_url")
        await hosts.require_allowed(session, parts)
        return Validated(
            {"base_url": _origin(parts, "base_url")}, {"api_key": body.api_key}, "api_key"
        )
    if isinstance(body, GhlIn):
        base_url = _origin(check_url(body.base_url, policy, name="base_url"), "base_url")
        return Validated(
            {"location_id": body.location_id, "base_url": base_url},
            {"api_key": body.api_key},
            "api_key",
        )
    if isinstance(body, UnipileIn):
        base_url = _origin(check_url(body.base_url, policy, name="base_url"), "base_url")
        return Validated(
            {"base_url": base_url, "account_id": body.account_id},
            {"api_key": body.api_key},
            "api_key",
        )
    if isinstance(body, OpenAiIn):
        # Omitted fields take the instance defaults at PUT time: what GET shows is what runs.
        given = defaults or {}
        raw = body.base_url or given.get("base_url") or ""
        base_url = _api_base(check_url(raw, policy, name="base_url"), "base_url")
        model = body.model or given.get("model") or ""
        if not model:
            raise InvalidInput("model is required (no instance default REPLYDESK_AI_MODEL)")
        return Validated(
            {"base_url": base_url, "model": model}, {"api_key": body.api_key}, "api_key"
        )
    if isinstance(body, SlackIn):
        parts = check_url(body.webhook_url, policy, name="webhook_url")
        if (parts.hostname or "").lower() == SLACK_HOST and not parts.path.startswith("/services/"):
            raise InvalidInput("webhook_url must be https://hooks.slack.com/services/…")
        return Validated({}, {"webhook_url": body.webhook_url}, "webhook_url")
    raise InvalidInput(f"no settings body for {provider}")


def binding(workspace_id: uuid.UUID, provider: str) -> str:
    """What a stored secret is bound to: copied to another row, it does not decrypt."""
    return f"{workspace_id}:{provider}"


def check_dedupe_key(workspace_id: uuid.UUID, provider: str, version: int, seq: int) -> str:
    """One pending check per credentials version and finished-check count: repeated requests
    while a check waits share it; a finished check (seq + 1) or a PUT (version + 1) frees it."""
    return f"{JobType.HEALTH_CHECK}:{workspace_id}:{provider}:v{version}:c{seq}"


async def _enqueue_check(
    session: AsyncSession, workspace_id: uuid.UUID, provider: str, version: int, seq: int
) -> bool:
    job_id = await enqueue(
        session,
        JobType.HEALTH_CHECK.value,
        {"provider": provider, "version": version},
        check_dedupe_key(workspace_id, provider, version, seq),
        workspace_id=workspace_id,
        max_attempts=3,
    )
    return job_id is not None


async def put_integration(
    session: AsyncSession,
    keyring: KeyRing,
    policy: OutboundPolicy,
    workspace_id: uuid.UUID,
    provider: Integration,
    body: BaseModel,
    defaults: dict[str, str] | None = None,
) -> IntegrationOut:
    """Validate, encrypt, store; health back to ``unknown``; queue a check. Refuses with 503
    ``secret_key_missing`` before anything is written when no key is configured.
    ``defaults``: instance values for fields a body may omit (the AI provider's)."""
    valid = await validate(session, provider, body, policy, defaults)
    return await store_validated(session, keyring, workspace_id, provider, valid)


async def store_validated(
    session: AsyncSession,
    keyring: KeyRing,
    workspace_id: uuid.UUID,
    provider: Integration,
    valid: Validated,
) -> IntegrationOut:
    """Encrypt and store what ``validate`` accepted; health back to ``unknown``; queue a check.

    Also called directly by ``replydesk demo``, which points integrations at the loopback
    simulator (whose per-provider path prefixes ``validate`` refuses); nothing else should."""
    ciphertext = keyring.seal(binding(workspace_id, provider), valid.secret)
    hint = secret_hint(valid.secret[valid.hint_field])
    version = await repository.upsert_credentials(
        session, workspace_id, provider, valid.settings, hint, ciphertext
    )
    seq = await repository.reset_health(session, workspace_id, provider)
    await _enqueue_check(session, workspace_id, provider, version, seq)
    return await get_integration(session, workspace_id, provider)


async def delete_integration(
    session: AsyncSession, workspace_id: uuid.UUID, provider: Integration
) -> None:
    """Credentials and their health go (FK cascade); a queued check then finds nothing."""
    if not await repository.delete_credentials(session, workspace_id, provider):
        raise NotFound(f"{provider} is not configured in this workspace")


def _item(provider: Integration, row: RowMapping | None) -> IntegrationOut:
    if row is None:
        return IntegrationOut(
            provider=provider,
            configured=False,
            status=HealthStatus.NOT_CONFIGURED,
            since=None,
            last_checked_at=None,
            last_error=None,
            settings={},
        )
    settings = dict(row["settings"])
    hint_field = "webhook_url" if provider is Integration.SLACK else "api_key"
    settings[hint_field] = row["secret_hint"]
    error = None
    if row["last_error_category"] is not None:
        error = LastError(
            category=row["last_error_category"], message=row["last_error_message"] or ""
        )
    return IntegrationOut(
        provider=provider,
        configured=True,
        status=HealthStatus(row["status"] or HealthStatus.UNKNOWN),
        since=row["since"] or row["updated_at"],
        last_checked_at=row["last_checked_at"],
        last_error=error,
        settings=settings,
    )


async def _rows(session: AsyncSession, workspace_id: uuid.UUID) -> dict[str, RowMapping]:
    return {r["provider"]: r for r in await repository.list_for_workspace(session, workspace_id)}


async def list_integrations(session: AsyncSession, workspace_id: uuid.UUID) -> IntegrationList:
    rows = await _rows(session, workspace_id)
    return IntegrationList(
        items=[_item(p, rows.get(p.value)) for p in Integration],
        emailbison_allowed_hosts=await hosts.list_hosts(session),
    )


async def get_integration(
    session: AsyncSession, workspace_id: uuid.UUID, provider: Integration
) -> IntegrationOut:
    return _item(provider, (await _rows(session, workspace_id)).get(provider.value))


async def request_check(
    session: AsyncSession, workspace_id: uuid.UUID, provider: Integration
) -> CheckQueued:
    target = await repository.check_target(session, workspace_id, provider)
    if target is None:
        raise NotFound(f"{provider} is not configured in this workspace")
    queued = await _enqueue_check(
        session, workspace_id, provider, target["version"], target["check_seq"]
    )
    return CheckQueued(provider=provider, status="queued" if queued else "already_queued")


async def queue_due_checks(session: AsyncSession, limit: int) -> int:
    """Periodic: a check for every configured integration (at most ``limit``, least recently
    checked first); integrations with a check still pending are skipped by its key."""
    queued = 0
    for row in await repository.due_for_check(session, limit):
        if await _enqueue_check(
            session, row["workspace_id"], row["provider"], row["version"], row["check_seq"]
        ):
            queued += 1
    return queued


# Before any real workspace id: where a key rotation pass starts.
FIRST_KEY = (uuid.UUID(int=0), "")


async def reencrypt_chunk(
    session: AsyncSession, keyring: KeyRing, after: tuple[uuid.UUID, str], limit: int
) -> tuple[int, tuple[uuid.UUID, str] | None]:
    """Re-encrypt up to ``limit`` stored secrets with the primary key (after a rotation, so
    ``REPLYDESK_SECRET_KEY_OLD`` can be dropped). Returns the count and where to go on, or
    None when done. The plaintext (and its binding) is unchanged, so is ``version``."""
    rows = await repository.ciphertext_chunk(session, after, limit)
    for row in rows:
        rotated = keyring.rotate(row["secret_ciphertext"])
        await repository.set_ciphertext(session, row["workspace_id"], row["provider"], rotated)
    if len(rows) < limit:
        return len(rows), None
    return len(rows), (rows[-1]["workspace_id"], rows[-1]["provider"])


@dataclass(frozen=True)
class LoadedCredentials:
    """Decrypted credentials (in memory only) and the version they had when read."""

    credentials: ProviderCredentials
    version: int


async def load_credentials(
    session: AsyncSession, keyring: KeyRing, workspace_id: uuid.UUID, provider: Integration
) -> LoadedCredentials | None:
    """A workspace's decrypted credentials for one provider, or None when not configured
    (health checks; the provider clients' jobs read them the same way, outside transactions
    that call out). Raises ``UnreadableSecret`` / ``SecretKeyMissing``."""
    row = await repository.load_for_check(session, workspace_id, provider)
    if row is None:
        return None
    secret = keyring.open(binding(workspace_id, provider), row["secret_ciphertext"])
    return LoadedCredentials(
        ProviderCredentials(provider, dict(row["settings"]), secret), row["version"]
    )


async def record_check(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    provider: Integration,
    version: int,
    result: HealthResult,
) -> bool:
    """A finished health check (through ``transition_health``). False when the credentials
    changed (or went) since the check started: nothing written."""
    change = await transition_health(
        session, workspace_id, provider, result, version=version, checked=True
    )
    return change is not None


@dataclass(frozen=True)
class HealthChange:
    """What a health result did: ``previous`` → ``current`` (equal when it did not move)."""

    workspace_id: uuid.UUID
    provider: Integration
    previous: HealthStatus
    current: HealthStatus
    category: str | None
    message: str | None

    @property
    def changed(self) -> bool:
        return self.previous is not self.current


async def transition_health(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    provider: Integration,
    result: HealthResult,
    *,
    version: int,
    checked: bool = False,
    limited_until: datetime | None = None,
    degraded_streak: int = 1,
) -> HealthChange | None:
    """The one function through which every health result is written: health checks
    (``checked``: stamps ``last_checked_at`` and frees the check's dedupe key) and the
    outcomes of sends (replies). Hook anything that must happen on a transition (alerts,
    "reconnected") here, on ``HealthChange.changed``.

    Rules: ``ok`` clears the error, the rate limit and the failure streak (a gated provider
    resumes). ``degraded`` from a send counts a streak and becomes the status only from
    ``degraded_streak`` consecutive failures (a check's result is the status at once). Every
    other status is taken as it is; ``rate_limited`` lasts until ``limited_until``. Nothing is
    written (None) when the credentials no longer have ``version``; a send's result that
    changes nothing writes nothing (no hot-row churn)."""
    row = await repository.lock_health(session, workspace_id, provider, version)
    if row is None:
        return None
    previous = HealthStatus(row["status"])
    streak = int(row["failure_streak"])
    status = result.status
    if status is HealthStatus.OK:
        streak, limited_until = 0, None
    elif status is HealthStatus.DEGRADED:
        streak += 1
        if not checked and streak < degraded_streak:
            status = previous  # not a streak yet: the error is recorded, the status stays
    params = {
        "ws": workspace_id,
        "provider": provider.value,
        "status": status.value,
        "category": result.category,
        "message": result.message,
        "limited_until": limited_until if status is HealthStatus.RATE_LIMITED else None,
        "streak": streak,
        "checked": checked,
    }
    unchanged = (
        status is previous
        and result.category == row["last_error_category"]
        and result.message == row["last_error_message"]
        and params["limited_until"] == row["limited_until"]
        and streak == row["failure_streak"]
    )
    if checked or not unchanged:
        await repository.write_health(session, params)
    change = HealthChange(workspace_id, provider, previous, status, result.category, result.message)
    if change.changed:
        await _alert_on_change(session, change)
    return change


@dataclass(frozen=True)
class Gate:
    """What a reply or a send needs to know about an integration (never its secret)."""

    version: int
    status: HealthStatus
    limited_until: datetime | None
    category: str | None
    message: str | None


async def gate(
    session: AsyncSession, workspace_id: uuid.UUID, provider: Integration
) -> Gate | None:
    """The integration's gate state, or None when it is not configured."""
    row = await repository.gate(session, workspace_id, provider)
    if row is None:
        return None
    return Gate(
        row["version"],
        HealthStatus(row["status"]),
        row["limited_until"],
        row["last_error_category"],
        row["last_error_message"],
    )


# Statuses someone must hear about; rate_limited is expected and lifts by itself (queued work
# waits), so it is not alerted.
ALERTED = frozenset({HealthStatus.AUTH_FAILED, HealthStatus.DISCONNECTED, HealthStatus.DEGRADED})
RECONNECTED = "reconnected"
_NAMES = {
    "emailbison": "EmailBison",
    "ghl": "GoHighLevel",
    "unipile": "Unipile",
    "openai": "The AI provider",
}


async def _alert_on_change(session: AsyncSession, change: HealthChange) -> None:
    """A change into a failing status records an alert, a recovery from one a
    ``reconnected`` alert, in the same transaction (the alert outbox, docs/queue.md "Alerts")."""
    provider, previous, current = change.provider, change.previous, change.current
    if provider is Integration.SLACK or previous is current:
        return
    name = _NAMES.get(provider.value, provider.value)
    if current in ALERTED:
        category = change.category or current.value
        text = f"{name} is {current.value} ({category}): {change.message or 'no detail'}"
    elif current is HealthStatus.OK and previous in ALERTED:
        category = RECONNECTED
        text = f"{name} is working again (was {previous.value})"
    else:
        return
    await record_alert(
        session,
        workspace_id=change.workspace_id,
        error_class=category,
        source="integration_health",
        item_id=None,
        error=change.message,
        integration=provider.value,
        message=text,
    )


@dataclass(frozen=True)
class Configured:
    workspace_id: uuid.UUID
    provider: Integration
    version: int
    status: HealthStatus
    last_error_category: str | None
    configured_at: datetime


async def configured_integrations(
    session: AsyncSession, providers: Sequence[Integration], limit: int
) -> list[Configured]:
    """Configured integrations of these providers with their health (at most ``limit``)."""
    rows = await repository.configured(session, [p.value for p in providers], limit)
    return [
        Configured(
            r["workspace_id"],
            Integration(r["provider"]),
            r["version"],
            HealthStatus(r["status"]),
            r["last_error_category"],
            r["updated_at"],
        )
        for r in rows
    ]
