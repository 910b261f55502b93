"""The simulator's ASGI app: every provider under its own prefix, fault switches, request log.

``/emailbison/api/...``, ``/ghl/...``, ``/unipile/api/v1/...``, ``/slack/services/...``;
admin under ``/_sim/`` (``faults``, ``requests``, ``health``). docs/simulator.md has the rest.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route as StarletteRoute

from replydesk.sim.base import PREFIXES, Route, SimRequest
from replydesk.sim.bodies import error_response
from replydesk.sim.emailbison import EmailBisonSim
from replydesk.sim.faults import Fault, FaultBook, FaultError, RequestLog
from replydesk.sim.ghl import GhlSim
from replydesk.sim.openai import ANSWER_KINDS, OpenAiSim, schema_name
from replydesk.sim.slack import SlackSim
from replydesk.sim.unipile import UnipileSim

GHL_VERSION = "2021-07-28"


class Simulator:
    """The simulated providers' state, the fault book and the request log."""

    def __init__(self, keys: Mapping[str, str] | None = None) -> None:
        # When a provider has a key here, only that key is accepted (else any non-empty one).
        self.keys = dict(keys or {})
        self.emailbison = EmailBisonSim()
        self.ghl = GhlSim()
        self.unipile = UnipileSim()
        self.slack = SlackSim()
        self.openai = OpenAiSim()
        self.faults = FaultBook()
        self.requests = RequestLog()
        self.routes: list[Route] = [
            *self.emailbison.routes(),
            *self.ghl.routes(),
            *self.unipile.routes(),
            *self.slack.routes(),
            *self.openai.routes(),
        ]

    def find(self, provider: str, method: str, path: str) -> tuple[Route | None, dict[str, str]]:
        for route in self.routes:
            if route.provider == provider:
                params = route.matches(method, path)
                if params is not None:
                    return route, params
        return None, {}

    def refuse_auth(self, provider: str, headers: Mapping[str, str]) -> Response | None:
        """The provider's answer to a missing or wrong credential, or None when it is fine."""
        expected = self.keys.get(provider)
        if provider in ("emailbison", "ghl"):
            auth = headers.get("authorization", "")
            key = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
            if not key or (expected is not None and key != expected):
                return error_response(provider, 401)
            if provider == "ghl" and headers.get("version") != GHL_VERSION:
                return error_response("ghl", 400, message="Version header was not found")
        elif provider == "unipile":
            key = headers.get("x-api-key", "")
            if not key or (expected is not None and key != expected):
                return error_response("unipile", 401, error_type="missing_credentials")
        elif provider == "openai":
            auth = headers.get("authorization", "")
            key = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
            if not key or (expected is not None and key != expected):
                return error_response("openai", 401)
        return None

    async def answer(self, route: Route, req: SimRequest, fault: Fault | None) -> Response:
        if fault is not None and fault.latency_ms:
            await asyncio.sleep(fault.latency_ms / 1000)
        if fault is not None and not fault.after_effect:
            refusal = await self._fault(req.provider, fault)
            if refusal is not None:
                return refusal
        refusal = self.refuse_auth(req.provider, req.headers)
        if refusal is not None:
            return refusal
        if (
            fault is not None
            and req.provider == "openai"
            and req.endpoint.startswith("responses")
            and (fault.error_type in ANSWER_KINDS or fault.output is not None)
        ):
            return self.openai.answer(req, fault.error_type, fault.output)
        response = await route.handler(req)
        if fault is not None and fault.after_effect:
            return await self._fault(req.provider, fault) or response
        return response

    async def _fault(self, provider: str, fault: Fault) -> Response | None:
        if fault.hang:
            await self.faults.hang()
        if fault.status is None:
            return None
        return error_response(
            provider,
            fault.status,
            error_type=fault.error_type,
            message=fault.message,
            retry_after=fault.retry_after,
        )


def _parse_body(raw: bytes, content_type: str) -> tuple[Any, dict[str, list[str]]]:
    if not raw:
        return None, {}
    if "application/x-www-form-urlencoded" in content_type:
        return None, parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
    try:
        return json.loads(raw), {}
    except ValueError:
        return raw.decode("utf-8", "replace"), {}


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def create_sim_app(keys: Mapping[str, str] | None = None) -> Starlette:
    sim = Simulator(keys)

    async def provider_call(request: Request) -> Response:
        provider = request.path_params["provider"]
        path = "/" + request.path_params["path"]
        headers = {k.lower(): v for k, v in request.headers.items()}
        body, form = _parse_body(await request.body(), headers.get("content-type", ""))
        route, params = sim.find(provider, request.method, path)
        endpoint = route.endpoint if route else "unknown"
        if provider == "openai" and endpoint == "responses" and schema_name(body):
            endpoint = f"responses.{schema_name(body)}"  # faults can pick one kind of call
        entry = sim.requests.record(
            provider=provider,
            endpoint=endpoint,
            method=request.method,
            path=path,
            query=request.url.query,
            headers=headers,
            body=body if form == {} else form,
        )
        if route is None:
            response = error_response(
                provider, 404, message=f"The route {path} could not be found."
            )
        else:
            fault = sim.faults.take(provider, endpoint)
            entry["fault"] = fault.id if fault else None
            req = SimRequest(
                provider,
                endpoint,
                request.method,
                path,
                params,
                parse_qs(request.url.query),
                headers,
                body,
                form,
            )
            response = await sim.answer(route, req, fault)
        entry["status"] = response.status_code
        return response

    async def add_fault(request: Request) -> Response:
        try:
            fault = sim.faults.add(json.loads(await request.body() or b"null"))
        except (FaultError, TypeError, ValueError) as exc:
            return _error(422, "invalid_fault", str(exc))
        return JSONResponse({"fault": fault.public()}, status_code=201)

    async def list_faults(request: Request) -> Response:
        return JSONResponse({"items": sim.faults.list()})

    async def clear_faults(request: Request) -> Response:
        return JSONResponse({"cleared": sim.faults.clear(request.query_params.get("provider"))})

    async def list_requests(request: Request) -> Response:
        q = request.query_params
        return JSONResponse({"items": sim.requests.list(q.get("provider"), q.get("endpoint"))})

    async def clear_requests(request: Request) -> Response:
        sim.requests.clear()
        return Response(status_code=204)

    async def health(request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        return JSONResponse({"ok": True, "base_urls": {p: f"{base}/{p}" for p in PREFIXES}})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        sim.faults.release_hangs()

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    app = Starlette(
        routes=[
            StarletteRoute("/_sim/faults", add_fault, methods=["POST"]),
            StarletteRoute("/_sim/faults", list_faults, methods=["GET"]),
            StarletteRoute("/_sim/faults", clear_faults, methods=["DELETE"]),
            StarletteRoute("/_sim/requests", list_requests, methods=["GET"]),
            StarletteRoute("/_sim/requests", clear_requests, methods=["DELETE"]),
            StarletteRoute("/_sim/health", health, methods=["GET"]),
            StarletteRoute("/{provider:str}/{path:path}", provider_call, methods=methods),
        ],
        lifespan=lifespan,
    )
    app.state.sim = sim
    return app
