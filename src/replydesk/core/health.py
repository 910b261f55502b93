"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from replydesk.core.deps import DatabaseDep, SettingsDep
from replydesk.core.logging import get_logger

router = APIRouter(tags=["health"])
log = get_logger(__name__)


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="The database answers within the readiness timeout",
    responses={503: {"description": "database unreachable, or the process is shutting down"}},
)
async def readyz(request: Request, db: DatabaseDep, settings: SettingsDep) -> JSONResponse:
    if getattr(request.app.state, "draining", False):
        # SIGTERM received (core/server.py: DrainingServer): still serving, but a load
        # balancer should send nothing new here.
        return JSONResponse(
            {"error": {"code": "shutting_down", "message": "the process is shutting down"}},
            status_code=503,
            headers={"Retry-After": "1"},
        )
    try:
        async with asyncio.timeout(settings.readiness_timeout_s):
            async with db.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    except Exception as exc:
        log.warning("readiness_failed", category="db_unavailable", error=type(exc).__name__)
        return JSONResponse(
            {"error": {"code": "not_ready", "message": "database unreachable"}},
            status_code=503,
            headers={"Retry-After": "1"},
        )
    return JSONResponse({"status": "ready"})
