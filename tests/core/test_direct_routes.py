"""Direct routes (core/direct.py): answered without FastAPI's router, with the same edge,
input rules, error shape and fallbacks as a routed request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.routing import APIRoute
from starlette.responses import JSONResponse, Response

from replydesk.core.direct import DirectRoute
from replydesk.core.errors import InvalidInput, Unavailable
from replydesk.core.http import new_api
from replydesk.core.settings import Settings


@asynccontextmanager
async def _lifespan(_: FastAPI) -> AsyncIterator[None]:
    yield


def _app() -> tuple[FastAPI, list[str]]:
    calls: list[str] = []
    router = APIRouter()

    @router.post(
        "/things/{kind}/{name}",
        openapi_extra={
            "parameters": [
                {"name": "token", "in": "query", "required": False, "schema": {"type": "string"}}
            ]
        },
    )
    async def routed(kind: str, name: str) -> dict[str, str]:
        calls.append("routed")
        return {"via": "router"}

    async def direct(request: Request) -> Response:
        calls.append("direct")
        params: dict[str, Any] = request.path_params
        if params["name"] == "invalid":
            raise InvalidInput("name is invalid")
        if params["name"] == "away":
            raise Unavailable("database away", retry_after_s=5)
        if params["name"] == "bug":
            raise RuntimeError("a bug")
        route = request.scope["route"]
        return JSONResponse({"via": "direct", "route": route.path, **params}, status_code=202)

    route = router.routes[0]
    assert isinstance(route, APIRoute)
    app = new_api(
        Settings(database_url="postgresql://unused/x"),
        _lifespan,
        direct_routes=(DirectRoute(route, direct),),
    )
    app.include_router(router)
    return app, calls


def _client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://t")


async def test_direct_route_answers_with_path_params_and_route_template() -> None:
    app, calls = _app()
    async with _client(app) as c:
        resp = await c.post("/things/a/b%20c?token=x")
    assert resp.status_code == 202
    assert resp.json() == {
        "via": "direct",
        "route": "/things/{kind}/{name}",
        "kind": "a",
        "name": "b c",
    }
    assert calls == ["direct"]
    # The edge still wraps it: request id and security headers.
    assert len(resp.headers["x-request-id"]) >= 16
    assert resp.headers["x-content-type-options"] == "nosniff"


async def test_app_input_rules_and_error_shape_apply() -> None:
    app, calls = _app()
    async with _client(app) as c:
        unknown = await c.post("/things/a/b?other=1")
        nul = await c.post("/things/a/b?token=%00")
        invalid = await c.post("/things/a/invalid")
        away = await c.post("/things/a/away")
        bug = await c.post("/things/a/bug")
    assert unknown.status_code == 422
    assert unknown.json()["error"]["code"] == "validation_error"
    assert "'other'" in unknown.json()["error"]["message"]
    assert nul.status_code == 422
    assert invalid.status_code == 422
    assert invalid.json() == {"error": {"code": "validation_error", "message": "name is invalid"}}
    assert away.status_code == 503
    assert away.headers["retry-after"] == "5"
    assert bug.status_code == 500
    assert bug.json()["error"]["code"] == "internal_error"
    assert calls == ["direct", "direct", "direct"]  # the input rules refused the first two


async def test_what_the_direct_route_does_not_take_goes_to_the_router() -> None:
    app, calls = _app()
    async with _client(app) as c:
        wrong_method = await c.get("/things/a/b")
        too_deep = await c.post("/things/a/b/c")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"
    assert too_deep.status_code == 404
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, root_path="/base")
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        behind_prefix = await c.post("/base/things/a/b")
    assert behind_prefix.status_code == 200
    assert behind_prefix.json() == {"via": "router"}
    assert calls == ["routed"]
    # The route is still documented.
    assert "/things/{kind}/{name}" in app.openapi()["paths"]
