"""``POST /webhooks/{provider}/{workspace_id}``: thin handler over ``Ingestor``.

The route is documented (and registered) here as a FastAPI route, and served as a direct route
(``core/direct.py``, ``WEBHOOK``): the hot path skips FastAPI's router and dependency solving.
"""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.responses import Response

from replydesk.core.direct import DirectRoute
from replydesk.core.http import error_doc
from replydesk.ingest.schemas import Duplicate, Stored
from replydesk.ingest.service import Ingestor

router = APIRouter(tags=["webhooks"])


def _ingestor(request: Request) -> Ingestor:
    """Built in the lifespan by the composition root (replydesk/app.py)."""
    ingestor: Ingestor = request.app.state.ingestor
    return ingestor


@router.post(
    "/webhooks/{provider}/{workspace_id}",
    summary="Receive a provider webhook (emailbison, ghl, unipile)",
    description=(
        "Authenticates with the workspace's webhook token (`?token=` or `X-Webhook-Token`), "
        "validates the body, stores it once per dedupe key and answers. While the database is "
        "unreachable, an authenticated webhook is kept in the outage spool and answered 202 "
        '`{"status": "accepted", "spooled": true}` (no event_id yet). See docs/ingestion.md.'
    ),
    status_code=202,
    response_model=Stored,
    responses={
        200: {"model": Stored | Duplicate, "description": "duplicate, or an unknown event type"},
        400: error_doc("body is not JSON"),
        401: error_doc("bad token or GHL signature"),
        404: error_doc("unknown provider"),
        408: error_doc("body not received in time"),
        413: error_doc("body too large"),
        415: error_doc("not application/json"),
        422: error_doc("a required field is missing, or the event belongs to another scope"),
        429: error_doc("GHL only: database unavailable; nothing stored, retry (Retry-After)"),
        503: error_doc("database unavailable; nothing stored, retry (Retry-After)"),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
        "parameters": [
            {"name": "token", "in": "query", "required": False, "schema": {"type": "string"}},
            {
                "name": "X-Webhook-Token",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
            },
        ],
    },
)
async def receive_webhook(provider: str, workspace_id: str, request: Request) -> JSONResponse:
    # Reached only when the direct route does not take the request (core/direct.py).
    result = await _ingestor(request).ingest(provider, workspace_id, request)
    return JSONResponse(result.body(), status_code=result.http_status)


async def receive_webhook_direct(request: Request) -> Response:
    """The same answer as ``receive_webhook``, built without FastAPI's request handling. The
    raw body is read by the service (size cap, signatures): nothing parses it before."""
    params = request.path_params
    result = await _ingestor(request).ingest(params["provider"], params["workspace_id"], request)
    return Response(
        orjson.dumps(result.body()), status_code=result.http_status, media_type="application/json"
    )


_route = router.routes[0]
assert isinstance(_route, APIRoute) and _route.endpoint is receive_webhook
WEBHOOK = DirectRoute(_route, receive_webhook_direct)
