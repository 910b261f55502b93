"""The in-process auth cache: TTL, short negative caching, single-flight loads, bounded size."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from replydesk.core.security import hash_token
from replydesk.ingest.auth import AuthCache, WorkspaceAuth, token_ok
from replydesk.integrations.base import Scope


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _auth(workspace_id: uuid.UUID, token: str = "rdw_secret") -> WorkspaceAuth:
    return WorkspaceAuth(workspace_id, hash_token(token), Scope())


class Loader:
    def __init__(self, known: set[uuid.UUID], delay: float = 0.0) -> None:
        self.known = known
        self.delay = delay
        self.calls: list[uuid.UUID] = []

    async def __call__(self, workspace_id: uuid.UUID) -> WorkspaceAuth | None:
        self.calls.append(workspace_id)
        await asyncio.sleep(self.delay)
        return _auth(workspace_id) if workspace_id in self.known else None


async def test_hits_within_ttl_and_reloads_after() -> None:
    clock = Clock()
    wid = uuid.uuid4()
    loader = Loader({wid})
    cache = AuthCache(30, clock=clock)
    assert (await cache.get(wid, loader)) is not None
    clock.now += 29
    await cache.get(wid, loader)
    assert len(loader.calls) == 1
    clock.now += 2
    await cache.get(wid, loader)
    assert len(loader.calls) == 2


async def test_unknown_ids_are_cached_briefly() -> None:
    clock = Clock()
    wid = uuid.uuid4()
    loader = Loader(set())
    cache = AuthCache(30, clock=clock)
    assert (await cache.get(wid, loader)) is None
    await cache.get(wid, loader)
    assert len(loader.calls) == 1
    clock.now += 5.1  # negative TTL is min(ttl, 5 s): a new workspace is usable quickly
    await cache.get(wid, loader)
    assert len(loader.calls) == 2


async def test_concurrent_misses_share_one_load() -> None:
    wid = uuid.uuid4()
    loader = Loader({wid}, delay=0.05)
    cache = AuthCache(30)
    results = await asyncio.gather(*(cache.get(wid, loader) for _ in range(20)))
    assert len(loader.calls) == 1
    assert all(r is results[0] for r in results)


async def test_failed_load_is_not_cached_and_a_waiter_giving_up_does_not_cancel_it() -> None:
    wid = uuid.uuid4()
    attempts = 0

    async def flaky(workspace_id: uuid.UUID) -> WorkspaceAuth | None:
        nonlocal attempts
        attempts += 1
        await asyncio.sleep(0.05)
        if attempts == 1:
            raise ConnectionError("database away")
        return _auth(workspace_id)

    cache = AuthCache(30)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await cache.get(wid, flaky)
    with pytest.raises(ConnectionError):
        await cache.get(wid, flaky)  # joins the same (still running) load
    assert attempts == 1
    assert (await cache.get(wid, flaky)) is not None
    assert attempts == 2


async def test_size_is_bounded() -> None:
    cache = AuthCache(30, max_entries=100)
    loader = Loader(set())
    for _ in range(1000):
        await cache.get(uuid.uuid4(), loader)
    assert len(cache) == 100


async def test_ttl_zero_disables_caching() -> None:
    wid = uuid.uuid4()
    loader = Loader({wid})
    cache = AuthCache(0)
    await cache.get(wid, loader)
    await cache.get(wid, loader)
    assert len(loader.calls) == 2


def test_token_check() -> None:
    auth = _auth(uuid.uuid4(), "rdw_right")
    assert token_ok(auth, "rdw_right")
    assert not token_ok(auth, "rdw_wrong")
    assert not token_ok(auth, None)
    assert not token_ok(auth, "")
    assert not token_ok(None, "rdw_right")


async def test_refresh_reloads_at_most_once_per_interval() -> None:
    clock = Clock()
    wid = uuid.uuid4()
    loader = Loader({wid})
    cache = AuthCache(30, refresh_interval_s=1.0, clock=clock)
    await cache.get(wid, loader)
    # The first refresh of a cached entry reloads it (the token may have been rotated).
    assert (await cache.refresh(wid, loader)) is not None
    assert len(loader.calls) == 2
    # A flood of refreshes (wrong tokens) within the interval costs no more loads.
    for _ in range(50):
        await cache.refresh(wid, loader)
    assert len(loader.calls) == 2
    clock.now += 1.5
    await cache.refresh(wid, loader)
    assert len(loader.calls) == 3


async def test_refresh_of_an_unknown_id_just_loaded_costs_no_second_load() -> None:
    clock = Clock()
    wid = uuid.uuid4()
    loader = Loader(set())
    cache = AuthCache(30, refresh_interval_s=1.0, clock=clock)
    assert (await cache.get(wid, loader)) is None
    assert (await cache.refresh(wid, loader)) is None
    assert len(loader.calls) == 1
    # Created since (through another process): found once the interval has passed.
    loader.known.add(wid)
    clock.now += 1.5
    assert (await cache.refresh(wid, loader)) is not None
    assert len(loader.calls) == 2
