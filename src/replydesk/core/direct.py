"""Direct routes: a hot path answered without FastAPI's router and dependency machinery.

Profiled under load (docs/benchmarks.md, "Lean ingestion path"), FastAPI's per-request work
between the edge middleware and a webhook handler (route matching across every included
router, dependency solving, the exit-stack middleware, request re-wrapping) cost twice what the
handler itself did. A ``DirectRoute`` is served by ``DirectRoutes``, a pure ASGI layer just
inside ``EdgeMiddleware`` (``core/edge.py``): request id, security headers, the last catch of
unhandled errors and the 429/503 metric stay exactly as for every other route.

What the route must still mean is kept, not re-implemented:

- the FastAPI route stays registered (OpenAPI, and every request this layer does not take:
  other methods get the router's 405, a ``root_path`` deployment goes through the router);
- ``scope["route"]`` is that route, so metrics and logs name the same template;
- the app-wide input rules (``core/inputs.check_request``) run first, as the app dependency did;
- an exception becomes the answer of the app's own exception handler for its class
  (``core/http.py``), looked up as Starlette's ExceptionMiddleware does; anything without
  a handler goes on to ``EdgeMiddleware`` (logged, 500).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from replydesk.core.inputs import check_request

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class DirectRoute:
    """``route`` (an APIRoute, for its path template, documentation and declared inputs)
    answered by ``handler``, which gets a Request whose ``path_params`` are set."""

    route: APIRoute
    handler: Handler
    methods: frozenset[str] = field(init=False)
    pattern: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "methods", frozenset(self.route.methods or ()))
        # The route's own compiled template: exactly what the router would match.
        object.__setattr__(self, "pattern", self.route.path_regex)


class DirectRoutes:
    def __init__(self, app: ASGIApp, *, routes: Sequence[DirectRoute] = ()) -> None:
        self.app = app
        self.routes = tuple(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            method, path = scope["method"], scope["path"]
            for direct in self.routes:
                if method in direct.methods and (match := direct.pattern.match(path)):
                    await _serve(direct, match.groupdict(), scope, receive, send)
                    return
        await self.app(scope, receive, send)


async def _serve(
    direct: DirectRoute, params: dict[str, Any], scope: Scope, receive: Receive, send: Send
) -> None:
    scope["route"] = direct.route
    scope["path_params"] = params
    request = Request(scope, receive)
    try:
        await check_request(request)
        response = await direct.handler(request)
    except Exception as exc:
        handler = _exception_handler(scope, exc)
        if handler is None:
            raise
        response = await handler(request, exc)
    await response(scope, receive, send)


def _exception_handler(
    scope: Scope, exc: Exception
) -> Callable[[Request, Exception], Awaitable[Response]] | None:
    app = scope.get("app")
    handlers: dict[Any, Any] = getattr(app, "exception_handlers", {})
    for cls in type(exc).__mro__:
        if cls is Exception:  # the catch-all is EdgeMiddleware's (log, 500)
            return None
        found = handlers.get(cls)
        if found is not None:
            return found  # type: ignore[no-any-return]
    return None
