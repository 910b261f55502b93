"""Which AI provider a workspace's calls use: its own ``PUT integrations/openai`` first, else
the instance default (``REPLYDESK_AI_API_KEY``), else none (the offline engine)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.core.crypto import KeyRing, UnreadableSecret
from replydesk.core.settings import Settings
from replydesk.integrations.ai.client import AiFailure, AiTarget, FailureKind
from replydesk.integrations.credentials import service as credentials
from replydesk.integrations.credentials.checks import HealthResult
from replydesk.integrations.credentials.vocabulary import HealthStatus, Integration

WORKSPACE = "workspace"
INSTANCE = "instance"


@dataclass(frozen=True)
class Resolved:
    """The target, or None with why (shown in a draft's verifier notes)."""

    target: AiTarget | None
    why_not: str | None = None


def instance_target(settings: Settings) -> AiTarget | None:
    if settings.ai_api_key is None or not settings.ai_api_key.get_secret_value():
        return None
    return AiTarget(
        settings.ai_base_url.rstrip("/"),
        settings.ai_api_key.get_secret_value(),
        settings.ai_model,
        INSTANCE,
    )


async def configured(session: AsyncSession, settings: Settings, workspace_id: uuid.UUID) -> bool:
    """Whether ``resolve`` may find a target (one cheap read, no decryption): the workspace's
    own integration unless it is ``auth_failed``, else the instance key."""
    gate = await credentials.gate(session, workspace_id, Integration.OPENAI)
    if gate is None:
        return instance_target(settings) is not None
    return gate.status is not HealthStatus.AUTH_FAILED


async def resolve(
    session: AsyncSession, settings: Settings, keyring: KeyRing, workspace_id: uuid.UUID
) -> Resolved:
    """Read in a short transaction before any call (a job's ``prepare``)."""
    gate = await credentials.gate(session, workspace_id, Integration.OPENAI)
    if gate is None:
        target = instance_target(settings)
        return Resolved(target, None if target else "no AI provider is configured")
    if gate.status is HealthStatus.AUTH_FAILED:
        # The workspace chose its own key: a refused one is not silently replaced by ours.
        return Resolved(None, "the workspace's AI key was refused (integration auth_failed)")
    try:
        loaded = await credentials.load_credentials(
            session, keyring, workspace_id, Integration.OPENAI
        )
    except UnreadableSecret:
        return Resolved(None, "the workspace's AI key cannot be decrypted")
    if loaded is None:
        return Resolved(instance_target(settings))
    conf = loaded.credentials.settings
    return Resolved(
        AiTarget(
            conf.get("base_url") or settings.ai_base_url.rstrip("/"),
            loaded.credentials.secret["api_key"],
            conf.get("model") or settings.ai_model,
            WORKSPACE,
            loaded.version,
        )
    )


def health_of(failure: AiFailure | None) -> HealthResult | None:
    """What a call's outcome says about the workspace integration's health (None: nothing)."""
    if failure is None:
        return HealthResult.ok()
    if failure.kind is FailureKind.AUTH:
        return HealthResult(HealthStatus.AUTH_FAILED, "provider_auth", failure.message)
    if failure.kind is FailureKind.RATE_LIMITED:
        return HealthResult(HealthStatus.RATE_LIMITED, "provider_rate_limited", failure.message)
    if failure.kind in (FailureKind.TIMEOUT, FailureKind.ERROR):
        return HealthResult(HealthStatus.DEGRADED, "provider_error", failure.message)
    return None  # truncation and malformed answers say nothing about the integration


async def record_health(
    session: AsyncSession,
    settings: Settings,
    workspace_id: uuid.UUID,
    target: AiTarget | None,
    failure: AiFailure | None,
) -> None:
    """Through ``transition_health`` (the one health writer), for workspace credentials only."""
    if target is None or target.source != WORKSPACE or target.version is None:
        return
    result = health_of(failure)
    if result is None:
        return
    await credentials.transition_health(
        session,
        workspace_id,
        Integration.OPENAI,
        result,
        version=target.version,
        degraded_streak=settings.provider_degraded_streak,
    )
