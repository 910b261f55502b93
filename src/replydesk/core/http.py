"""The HTTP edge: the FastAPI shell, the error shape, and domain errors → HTTP status.

Routers and services are assembled by the composition root (``replydesk/app.py``); this
module knows no domain.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from replydesk import __version__
from replydesk.core import errors
from replydesk.core.db_errors import describe_database_error, is_database_unavailable
from replydesk.core.direct import DirectRoute, DirectRoutes
from replydesk.core.edge import EdgeMiddleware, error_response, log_unhandled
from replydesk.core.inputs import check_request
from replydesk.core.logging import get_logger
from replydesk.core.outage import OutageLog
from replydesk.core.redact import safe_error_text
from replydesk.core.settings import Settings

log = get_logger(__name__)


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody


# The one mapping of domain errors to HTTP statuses; the most specific class wins.
HTTP_STATUS: dict[type[errors.ReplyDeskError], int] = {
    errors.MalformedInput: 400,
    errors.Unauthenticated: 401,
    errors.PermissionDenied: 403,
    errors.NotFound: 404,
    errors.InputTimeout: 408,
    errors.Conflict: 409,
    errors.ConcurrentUpdate: 409,
    errors.TooLarge: 413,
    errors.UnsupportedFormat: 415,
    errors.InvalidInput: 422,
    errors.RateLimited: 429,
    errors.ProviderFailure: 502,
    errors.Unavailable: 503,
}


def http_status(exc: errors.ReplyDeskError) -> int:
    for cls in type(exc).__mro__:
        status = HTTP_STATUS.get(cls)
        if status is not None:
            return status
    return 500


# Statuses raised by the HTTP layer itself (routing, body limits) get the code of the domain
# error with that status, so one status always has one code.
HTTP_CODES: dict[int, str] = {
    **{status: cls.code for cls, status in reversed(HTTP_STATUS.items())},
    405: "method_not_allowed",
    500: "internal_error",
}


def error_doc(description: str) -> dict[str, Any]:
    """An OpenAPI ``responses`` entry in the common error shape."""
    return {"model": ErrorResponse, "description": description}


# What any route may answer, whatever it does (the edge, the input rules, the HTTP layer).
EVERY_ROUTE: dict[int | str, dict[str, Any]] = {
    400: error_doc("bad_request: malformed request (bad Content-Length, body not UTF-8 JSON)"),
    408: error_doc("request_timeout: the body did not arrive in time"),
    413: error_doc("payload_too_large: body over the limit"),
    415: error_doc("unsupported_media_type: a body that is not application/json"),
    422: error_doc("validation_error: a parameter or field is invalid, or unknown"),
    500: error_doc("internal_error"),
}


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{loc}: {err.get('msg', 'invalid')}" if loc else str(err.get("msg")))
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    async def on_app_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, errors.ReplyDeskError)
        headers = dict(exc.headers)
        if exc.retry_after_s is not None:
            headers.setdefault("Retry-After", str(exc.retry_after_s))
        return error_response(http_status(exc), exc.code, exc.message, headers)

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(422, "validation_error", _describe_validation(exc))

    async def on_http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = HTTP_CODES.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail), dict(exc.headers or {}))

    async def on_database_error(request: Request, exc: Exception) -> JSONResponse:
        if is_database_unavailable(exc):
            # The database is away: an expected, transient state for the client (retry),
            # logged once per outage, not once per request.
            outage: OutageLog = request.app.state.api_outage
            # Classes and SQLSTATE only: the driver's text carries the statement's parameters.
            described = describe_database_error(exc) or safe_error_text(exc, limit=300)
            outage.failure(type(exc).__name__, described)
            return error_response(
                503,
                "database_unavailable",
                "database unavailable, retry later",
                {"Retry-After": "2"},
            )
        return await on_unexpected(request, exc)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log_unhandled(request.scope, exc)
        return error_response(500, "internal_error", "internal error")

    app.add_exception_handler(errors.ReplyDeskError, on_app_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    # Database errors get their own handlers: Starlette re-raises whatever the catch-all
    # Exception handler handled (an error-level "Exception in ASGI application" line).
    for db_error in (sa_exc.DBAPIError, sa_exc.TimeoutError, OSError, TimeoutError):
        app.add_exception_handler(db_error, on_database_error)
    # Any other exception is logged and answered 500 by EdgeMiddleware (core/edge.py).


def new_api(
    settings: Settings,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
    *,
    own_body_limits: tuple[str, ...] = (),
    direct_routes: tuple[DirectRoute, ...] = (),
) -> FastAPI:
    """The FastAPI shell every ReplyDesk app shares: error handlers, the input rules of every
    route (``core/inputs.py``), the edge middleware (``core/edge.py``), OpenAPI with docs
    served from the package's own assets, outage log. Paths under ``own_body_limits`` read
    their bodies with their own size and time limits; ``direct_routes`` are answered without
    FastAPI's router (``core/direct.py``), inside the edge middleware."""
    app = FastAPIOffline(
        title="ReplyDesk",
        version=__version__,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url="/redoc",
        openapi_url="/openapi.json",
        # Starlette's trailing-slash redirect builds an absolute Location from the Host
        # header (an open redirect to any host a client names): a wrong path is a 404.
        redirect_slashes=False,
        dependencies=[Depends(check_request)],
        responses=EVERY_ROUTE,
        # ReplyDesk has no OpenTelemetry (its metrics are Prometheus, core/metrics.py); off,
        # FastAPI skips asking the global providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    if direct_routes:
        app.add_middleware(DirectRoutes, routes=direct_routes)  # inside EdgeMiddleware
    app.add_middleware(
        EdgeMiddleware,
        max_body_bytes=settings.api_max_body_bytes,
        body_timeout_s=settings.api_body_timeout_s,
        own_body_limits=own_body_limits,
    )
    app.state.settings = settings
    app.state.api_outage = OutageLog(
        scope="api", detail="API requests are answered 503 until the database answers again"
    )
    install_error_handlers(app)
    return app
