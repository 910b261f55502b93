"""The outermost layer of every request (pure ASGI): request id, security headers, the body
size and time budget of API routes, and the last catch of unhandled errors.

Routes that read their body themselves with their own limits (webhooks, ``ingest/body.py``)
are listed in ``own_body_limits`` and skip the API's body budget.
"""

from __future__ import annotations

import asyncio
import os
import re
import traceback
from typing import Any

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.contextvars import bind_contextvars, reset_contextvars

from replydesk.core import errors
from replydesk.core.body import check_content_length
from replydesk.core.log_categories import exception_category
from replydesk.core.logging import get_logger
from replydesk.core.metrics import metrics
from replydesk.core.redact import strip_sql_details

log = get_logger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)
# JSON answers need nothing; HTML pages (the API docs now) load only their own assets.
CSP_API = b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
CSP_PAGE = (
    b"default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data:; worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; "
    b"form-action 'self'"
)


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers
    )


def log_unhandled(scope: Scope, exc: BaseException) -> None:
    """One error line: method, route template (never the raw path), request id, error class
    and a traceback without SQL text or bound parameters (user data)."""
    route = scope.get("route")
    log.error(
        "unhandled_error",
        category=exception_category(exc),
        error_class="bug",
        method=scope.get("method"),
        route=getattr(route, "path", None) or "unmatched",
        request_id=scope.get("state", {}).get("request_id"),
        error=type(exc).__name__,
        exception=strip_sql_details("".join(traceback.format_exception(exc))),
    )


def _count_refusal(scope: Scope, status: int) -> None:
    """503 and 429 answers, by route template (bounded; never the raw path)."""
    route = getattr(scope.get("route"), "path", None) or "unmatched"
    metrics().http_unavailable_answers.labels(route, str(status)).inc()


_REQUEST_ID_KEY = REQUEST_ID_HEADER.lower().encode()


def _request_id(scope: Scope) -> str:
    # A plain scan of the raw (lower-case) header names: a Headers object per request showed
    # in the webhook profile (docs/benchmarks.md, "Lean ingestion path").
    for name, value in scope["headers"]:
        if name == _REQUEST_ID_KEY:
            given: str = value.decode("latin-1")
            if _REQUEST_ID.fullmatch(given):
                return given
            break
    return os.urandom(16).hex()  # as random as uuid4().hex, without building a UUID


class EdgeMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        body_timeout_s: float,
        own_body_limits: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s
        self.own_body_limits = own_body_limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if message["status"] in (429, 503):
                    _count_refusal(scope, message["status"])
                message["headers"] = _with_edge_headers(message.get("headers", []), request_id)
            await send(message)

        # bind + reset (not structlog's bound_contextvars, which copies the whole context).
        tokens = bind_contextvars(request_id=request_id)
        try:
            try:
                if self.own_body_limits and scope["path"].startswith(self.own_body_limits):
                    await self.app(scope, receive, send_with_headers)
                    return
                try:
                    check_content_length(
                        Headers(scope=scope).get("content-length"), self.max_body_bytes
                    )
                except errors.ReplyDeskError as exc:
                    status = 413 if isinstance(exc, errors.TooLarge) else 400
                    await error_response(status, exc.code, exc.message)(
                        scope, receive, send_with_headers
                    )
                    return
                await self.app(scope, self._budgeted(receive), send_with_headers)
            except Exception as exc:
                # Everything the exception handlers did not answer ends here, not in
                # Starlette's ServerErrorMiddleware (which re-raises into uvicorn's log).
                log_unhandled(scope, exc)
                if not started:
                    await error_response(500, "internal_error", "internal error")(
                        scope, receive, send_with_headers
                    )
        finally:
            reset_contextvars(**tokens)

    def _budgeted(self, receive: Receive) -> Receive:
        """``receive`` with the body capped at ``max_body_bytes`` and read within
        ``body_timeout_s`` of the request's start; raises the HTTP errors FastAPI answers."""
        limit, budget = self.max_body_bytes, self.body_timeout_s
        deadline = asyncio.get_running_loop().time() + budget
        size = 0
        done = False

        async def receive_budgeted() -> Message:
            nonlocal size, done
            if done:
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise StarletteHTTPException(
                    408, f"request body not received within {budget:g} s"
                ) from None
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > limit:
                    raise StarletteHTTPException(413, f"body exceeds the limit of {limit} bytes")
                done = not message.get("more_body", False)
            return message

        return receive_budgeted


def _with_edge_headers(headers: Any, request_id: str) -> list[tuple[bytes, bytes]]:
    result = list(headers)
    present = {name.lower() for name, _ in result}
    content_type = next((v for n, v in result if n.lower() == b"content-type"), b"")
    extra = [
        *SECURITY_HEADERS,
        (
            b"content-security-policy",
            CSP_PAGE if content_type.startswith(b"text/html") else CSP_API,
        ),
        (REQUEST_ID_HEADER.lower().encode(), request_id.encode()),
    ]
    result.extend((name, value) for name, value in extra if name not in present)
    return result
