"""FastAPI application factory. Nothing happens at import time: engines are built in lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from replydesk import __version__
from replydesk.core import health
from replydesk.core.db import Database
from replydesk.core.db_errors import is_database_unavailable
from replydesk.core.errors import ReplyDeskError
from replydesk.core.logging import get_logger
from replydesk.core.outage import OutageLog
from replydesk.core.redact import safe_error_text
from replydesk.core.settings import Settings, get_settings

log = get_logger(__name__)

# Hooks run after the database is ready and before shutdown (e.g. the in-process worker).
LifespanHook = Callable[[FastAPI], Awaitable[Callable[[], Awaitable[None]] | None]]


def _error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers
    )


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{loc}: {err.get('msg', 'invalid')}" if loc else str(err.get("msg")))
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    async def on_app_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ReplyDeskError)
        return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return _error(422, "validation_error", _describe_validation(exc))

    async def on_http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, code, str(exc.detail), dict(exc.headers or {}))

    async def on_database_error(request: Request, exc: Exception) -> JSONResponse:
        if is_database_unavailable(exc):
            # The database is away: an expected, transient state for the client (retry),
            # logged once per outage, not once per request.
            outage: OutageLog = request.app.state.api_outage
            outage.failure(type(exc).__name__, safe_error_text(exc, limit=300))
            return _error(
                503,
                "database_unavailable",
                "database unavailable, retry later",
                {"Retry-After": "2"},
            )
        return await on_unexpected(request, exc)

    async def on_unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled_error", category="bug", error=type(exc).__name__, exc_info=exc)
        return _error(500, "internal_error", "internal error")

    app.add_exception_handler(ReplyDeskError, on_app_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    # Database errors get their own handlers: Starlette re-raises whatever the catch-all
    # Exception handler handled (an error-level "Exception in ASGI application" line).
    for db_error in (sa_exc.DBAPIError, sa_exc.TimeoutError, OSError, TimeoutError):
        app.add_exception_handler(db_error, on_database_error)
    app.add_exception_handler(Exception, on_unexpected)


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    hooks: list[LifespanHook] | None = None,
) -> FastAPI:
    """Build the app. Tests pass their own ``database``; otherwise lifespan creates one."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = database is None
        db = database or Database.from_settings(settings)
        app.state.db = db
        stops: list[Callable[[], Awaitable[None]]] = []
        try:
            for hook in hooks or []:
                stop = await hook(app)
                if stop is not None:
                    stops.append(stop)
            yield
        finally:
            for stop in reversed(stops):
                await stop()
            if owned:
                await db.dispose()

    app = FastAPI(
        title="ReplyDesk",
        version=__version__,
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    app.state.api_outage = OutageLog(
        scope="api", detail="API requests are answered 503 until the database answers again"
    )
    install_error_handlers(app)
    for router in _routers():
        app.include_router(router)
    return app


def _routers() -> list[Any]:
    """Every domain's router. Each domain adds its line here."""
    from replydesk.auth.endpoints import router as auth_router
    from replydesk.inbox.endpoints import router as inbox_router
    from replydesk.ingest.endpoints import router as ingest_router

    return [health.router, ingest_router, auth_router, inbox_router]
