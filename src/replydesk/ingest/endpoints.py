"""``POST /webhooks/{provider}/{workspace_id}``: thin handler over ``Ingestor``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from replydesk.core.db import Database
from replydesk.core.errors import ErrorResponse
from replydesk.core.settings import Settings
from replydesk.ingest.schemas import Duplicate, Stored
from replydesk.ingest.service import Ingestor

router = APIRouter(tags=["webhooks"])


def _ingestor(request: Request) -> Ingestor:
    """One per app and database, created on first use (engines exist only after lifespan)."""
    db: Database = request.app.state.db
    current: Ingestor | None = getattr(request.app.state, "ingestor", None)
    if current is None or current.db is not db:
        settings: Settings = request.app.state.settings
        current = Ingestor(db, settings)
        request.app.state.ingestor = current
    return current


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorResponse, "description": description}


@router.post(
    "/webhooks/{provider}/{workspace_id}",
    summary="Receive a provider webhook (emailbison, ghl, unipile)",
    description=(
        "Authenticates with the workspace's webhook token (`?token=` or `X-Webhook-Token`), "
        "validates the body, stores it once per dedupe key and answers. See docs/ingestion.md."
    ),
    status_code=202,
    response_model=Stored,
    responses={
        200: {"model": Stored | Duplicate, "description": "duplicate, or an unknown event type"},
        400: _error("body is not JSON"),
        401: _error("bad token or GHL signature"),
        404: _error("unknown provider"),
        408: _error("body not received in time"),
        413: _error("body too large"),
        415: _error("not application/json"),
        422: _error("a required field is missing, or the event belongs to another scope"),
        503: _error("database unavailable; nothing stored, retry (Retry-After)"),
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
    # The raw body is read by the service (size cap, signatures): FastAPI never parses it.
    result = await _ingestor(request).ingest(provider, workspace_id, request)
    return JSONResponse(result.body(), status_code=result.http_status)
