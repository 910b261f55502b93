"""``GET /metrics``: the Prometheus exposition, behind a bearer token (docs/metrics.md).

Without ``REPLYDESK_METRICS_TOKEN`` the route answers 404: metrics are never open by default
(a reverse proxy on the same host would make a "local clients only" rule meaningless). The
figures read at scrape (queue depth) come from ``app.state.metrics_sources``, set by the
composition root; the rest is what processes recorded (``core/metrics.py``).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client.core import Metric

from replydesk.core.errors import NotFound, Unauthenticated
from replydesk.core.metrics import CONTENT_TYPE, render
from replydesk.core.settings import Settings

router = APIRouter(tags=["health"])

MetricsSource = Callable[[], Awaitable[list[Metric]]]


def _check_token(request: Request, settings: Settings) -> None:
    if settings.metrics_token is None:
        raise NotFound("metrics are disabled: set REPLYDESK_METRICS_TOKEN to enable GET /metrics")
    given = request.headers.get("authorization", "")
    scheme, _, token = given.partition(" ")
    expected = settings.metrics_token.get_secret_value()
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        token.strip().encode(), expected.encode()
    ):
        exc = Unauthenticated("GET /metrics needs Authorization: Bearer <REPLYDESK_METRICS_TOKEN>")
        exc.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        raise exc


@router.get("/metrics", include_in_schema=False)
async def metrics_endpoint(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    _check_token(request, settings)
    sources: list[MetricsSource] = getattr(request.app.state, "metrics_sources", [])
    extra: list[Metric] = []
    for source in sources:
        extra.extend(await source())
    return Response(render(extra), media_type=CONTENT_TYPE)
