

async def test_an_expired_auth_entry_is_known_up_to_the_spools_max_age() -> None:
    import uuid

    from replydesk.ingest.auth import AuthCache, WorkspaceAuth
    from replydesk.integrations.base import Scope

    now = [100.0]
    cache = AuthCache(30.0, clock=lambda: now[0])
    ws = uuid.uuid4()
    auth = WorkspaceAuth(ws, "hash", Scope.from_row(None) if False else _scope())

    async def load(_: uuid.UUID) -> WorkspaceAuth:
        return auth

    assert await cache.get(ws, load) is auth
    now[0] += 40  # past the TTL
    assert cache.last_known(ws, max_age_s=3600) is auth
    assert cache.last_known(uuid.uuid4(), max_age_s=3600) is None  # never cached
    now[0] += 3600
    assert cache.last_known(ws, max_age_s=3600) is None
