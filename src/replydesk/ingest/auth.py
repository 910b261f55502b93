"""Webhook authentication without a database round trip on the hot path.

Each process caches, per workspace id, what a webhook needs to authenticate and scope an event:
the token hash, the provider scoping and each signing provider's loaded keys. Entries live
``ingest_auth_cache_ttl_s`` (unknown ids a shorter time), so a rotated token or a new key takes
effect within that TTL. Concurrent misses for one id share a single load.

Several processes (or hosts) each have their own cache. A token that does not match a cached
entry may be one another process just rotated to, so the entry is reloaded once before the
request is refused (``refresh``), at most once per ``refresh_interval_s`` per workspace so wrong
tokens cannot turn into a database load.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from replydesk.core.logging import get_logger
from replydesk.core.security import hash_token, token_matches
from replydesk.integrations.base import Scope, WebhookProvider

log = get_logger(__name__)

# Compared against when the workspace is unknown, so both cases cost one hash + compare.
_DUMMY_HASH = hash_token("replydesk-unknown-workspace")


@dataclass(frozen=True)
class WorkspaceAuth:
    workspace_id: uuid.UUID
    token_hash: str
    scope: Scope
    # Per signing provider, what its ``load_keys`` returned for this workspace.
    keys: Mapping[str, Any] = field(default_factory=dict)
    # The token before a rotation, accepted until ``previous_until`` (the grace period).
    previous_token_hash: str | None = None
    previous_until: datetime | None = None


def workspace_auth_from_row(
    workspace_id: uuid.UUID, row: Any, providers: Mapping[str, WebhookProvider]
) -> WorkspaceAuth:
    scope = Scope.from_row(row)
    keys = {
        name: provider.load_keys(workspace_id, scope)
        for name, provider in providers.items()
        if provider.load_keys is not None
    }
    return WorkspaceAuth(
        workspace_id,
        row.webhook_token_hash,
        scope,
        keys,
        previous_token_hash=row.previous_webhook_token_hash,
        previous_until=row.previous_webhook_token_expires_at,
    )


def token_ok(auth: WorkspaceAuth | None, token: str | None, now: datetime | None = None) -> bool:
    """Constant-time check; unknown workspaces and missing tokens cost the same as wrong ones.
    The previous token (after a rotation) matches until the end of its grace period."""
    stored = auth.token_hash if auth is not None else _DUMMY_HASH
    matches = token_matches(token or "", stored)
    previous = auth.previous_token_hash if auth is not None else None
    if previous is not None and auth is not None and auth.previous_until is not None:
        in_grace = (now or datetime.now(UTC)) < auth.previous_until
        matches = (token_matches(token or "", previous) and in_grace) or matches
    return matches and auth is not None and bool(token)


Loader = Callable[[uuid.UUID], Awaitable[WorkspaceAuth | None]]


class AuthCache:
    """TTL cache of ``WorkspaceAuth`` by workspace id, with single-flight loads."""

    def __init__(
        self,
        ttl_s: float,
        *,
        negative_ttl_s: float | None = None,
        max_entries: int = 10_000,
        refresh_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self.refresh_interval_s = refresh_interval_s
        self._loaded_at: dict[uuid.UUID, float] = {}
        self._refreshed_at: dict[uuid.UUID, float] = {}
        self.negative_ttl_s = min(ttl_s, 5.0) if negative_ttl_s is None else negative_ttl_s
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[uuid.UUID, tuple[float, WorkspaceAuth | None]] = {}
        self._loading: dict[uuid.UUID, asyncio.Task[WorkspaceAuth | None]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def invalidate(self, workspace_id: uuid.UUID | None = None) -> None:
        if workspace_id is None:
            self._entries.clear()
            self._loaded_at.clear()
            self._refreshed_at.clear()
        else:
            self._entries.pop(workspace_id, None)
            self._loaded_at.pop(workspace_id, None)
            self._refreshed_at.pop(workspace_id, None)

    def last_known(self, workspace_id: uuid.UUID, max_age_s: float) -> WorkspaceAuth | None:
        """The entry even past its TTL, if loaded at most ``max_age_s`` ago: what the outage
        spool authenticates with while the database cannot be asked (ingest/spooling.py)."""
        entry = self._entries.get(workspace_id)
        if entry is None or entry[1] is None:
            return None
        loaded_at = entry[0] - self.ttl_s
        return entry[1] if self._clock() - loaded_at <= max_age_s else None

    def fresh(self, workspace_id: uuid.UUID) -> tuple[bool, WorkspaceAuth | None]:
        """``(True, entry)`` for a live cached entry (no await needed), else ``(False, None)``."""
        entry = self._entries.get(workspace_id)
        if entry is not None and entry[0] > self._clock():
            return True, entry[1]
        return False, None

    async def get(self, workspace_id: uuid.UUID, loader: Loader) -> WorkspaceAuth | None:
        entry = self._entries.get(workspace_id)
        if entry is not None and entry[0] > self._clock():
            return entry[1]
        task = self._loading.get(workspace_id)
        if task is None:
            task = asyncio.create_task(self._load(workspace_id, loader))
            # Retrieved here so a failure nobody waited for is not reported as "never retrieved".
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
            self._loading[workspace_id] = task
        # Shielded: a caller that gives up (its budget ran out) does not cancel the shared load.
        return await asyncio.shield(task)

    async def refresh(self, workspace_id: uuid.UUID, loader: Loader) -> WorkspaceAuth | None:
        """The entry reloaded from the database — unless a refresh already reloaded it less
        than ``refresh_interval_s`` ago, or it is an unknown id loaded that recently (then the
        cached value)."""
        now = self._clock()
        entry = self._entries.get(workspace_id)
        if entry is not None:
            refreshed = self._refreshed_at.get(workspace_id)
            loaded = self._loaded_at.get(workspace_id, now)
            if (refreshed is not None and now - refreshed < self.refresh_interval_s) or (
                entry[1] is None and now - loaded < self.refresh_interval_s
            ):
                return entry[1]
        self._refreshed_at[workspace_id] = now
        self._entries.pop(workspace_id, None)
        return await self.get(workspace_id, loader)

    async def _load(self, workspace_id: uuid.UUID, loader: Loader) -> WorkspaceAuth | None:
        try:
            auth = await loader(workspace_id)
        finally:
            self._loading.pop(workspace_id, None)
        ttl = self.ttl_s if auth is not None else self.negative_ttl_s
        if ttl > 0:
            self._store(workspace_id, auth, ttl)
        return auth

    def _store(self, workspace_id: uuid.UUID, auth: WorkspaceAuth | None, ttl: float) -> None:
        now = self._clock()
        if len(self._entries) >= self.max_entries and workspace_id not in self._entries:
            for key in [k for k, (expires, _) in self._entries.items() if expires <= now]:
                del self._entries[key]
            while len(self._entries) >= self.max_entries:
                # Oldest insertion first (dicts keep insertion order).
                del self._entries[next(iter(self._entries))]
            self._loaded_at = {k: v for k, v in self._loaded_at.items() if k in self._entries}
            self._refreshed_at = {k: v for k, v in self._refreshed_at.items() if k in self._entries}
        self._entries[workspace_id] = (now + ttl, auth)
        self._loaded_at[workspace_id] = now
