from __future__ import annotations

import socket
import time

import httpx

from replydesk.app import create_app
from replydesk.core.settings import Settings


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}


async def test_unknown_route_uses_common_error_shape(client: httpx.AsyncClient) -> None:
    resp = await client.get("/no/such/route")
    assert resp.status_code == 404
    assert resp.json() == {"error": {"code": "not_found", "message": "Not Found"}}


async def test_no_redirect_is_built_from_the_host_header(client: httpx.AsyncClient) -> None:
    for path in ("/api/v1/me/", "/healthz/", "/api/v1/auth/login/"):
        resp = await client.get(path, headers={"Host": "evil.example"})
        assert resp.status_code == 404, path
        assert "location" not in resp.headers
        assert resp.json()["error"]["code"] == "not_found"
    # The routes themselves answer as before.
    assert (await client.get("/healthz", headers={"Host": "evil.example"})).status_code == 200


async def test_openapi_is_served(client: httpx.AsyncClient) -> None:
    resp = await client.get("/openapi.json")
    assert resp.status_code == 200
    assert "/readyz" in resp.json()["paths"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_readyz_answers_503_fast_when_database_is_unreachable(tmp_path: object) -> None:
    # A listening socket that never accepts: connects hang, like a dead host.
    blackhole = socket.socket()
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(0)
    port = blackhole.getsockname()[1]
    settings = Settings(
        database_url=f"postgresql://postgres@127.0.0.1:{port}/postgres", spool_enabled=False
    )
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                started = time.monotonic()
                resp = await c.get("/readyz")
                elapsed = time.monotonic() - started
    finally:
        blackhole.close()
    assert resp.status_code == 503
    assert resp.json()["error"]["code"] == "not_ready"
    assert elapsed < 1.5


async def test_readyz_503_on_refused_connection() -> None:
    settings = Settings(
        database_url=f"postgresql://postgres@127.0.0.1:{_closed_port()}/postgres",
        spool_enabled=False,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            assert (await c.get("/readyz")).status_code == 503


async def test_api_answers_503_not_500_when_database_is_down(log_capture: object) -> None:
    settings = Settings(
        database_url=f"postgresql://postgres@127.0.0.1:{_closed_port()}/postgres",
        spool_enabled=False,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            answers = [
                await c.get("/api/v1/me", headers={"Authorization": "Bearer rdp_x"})
                for _ in range(3)
            ]
    assert [a.status_code for a in answers] == [503, 503, 503]
    assert answers[0].json()["error"]["code"] == "database_unavailable"
    assert answers[0].headers["Retry-After"]
    records = log_capture.records()  # type: ignore[attr-defined]
    errors = [r for r in records if r["level"] == "error"]
    # One error line for the outage, not one per request.
    assert [r["event"] for r in errors] == ["api_db_unavailable"]
    assert errors[0]["category"] == "db_unavailable"


async def test_connections_lost_mid_request_answer_503_once_logged(
    database_url: str, log_capture: object
) -> None:
    """The database goes away under pooled connections: reads answer 503 (not 500, and the
    exception is not re-raised to the server), with one error line for the outage."""
    from replydesk.auth.service import create_workspace
    from replydesk.core.db import Database
    from replydesk.devtools.tcp_proxy import TcpProxy, pg_target, url_via_proxy

    async with TcpProxy(pg_target(database_url)) as proxy:
        settings = Settings(
            database_url=url_via_proxy(database_url, "127.0.0.1", proxy.port),
            spool_enabled=False,
        )
        db = Database.from_settings(settings)
        try:
            async with db.session() as session:
                created = await create_workspace(session, "W", "w@example.com")
            app = create_app(settings, database=db)
            headers = {"Authorization": f"Bearer {created.api_token}"}
            leads = f"/api/v1/workspaces/{created.workspace_id}/leads"
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)  # re-raised exceptions would surface
                async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                    assert (await c.get(leads, headers=headers)).status_code == 200
                    proxy.drop()
                    down = [(await c.get(leads, headers=headers)).status_code for _ in range(3)]
                    proxy.resume()
                    up = (await c.get(leads, headers=headers)).status_code
        finally:
            await db.dispose()
    assert down == [503, 503, 503]
    assert up in (200, 503)  # a stale pooled connection may fail once more
    errors = [r for r in log_capture.records() if r["level"] == "error"]  # type: ignore[attr-defined]
    assert [r["event"] for r in errors] == ["api_db_unavailable"]
