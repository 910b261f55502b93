"""A simulated OpenAI-compatible Responses API (``/openai/responses``, ``/openai/models``).

Answers follow the structured-output schema the request names (``text.format.name``):
``draft`` → ``{"subject", "body"}`` written from the JSON context in ``input`` (the lead's
first name, the signature), ``verdict`` → ``{"verdict": "pass", "notes"}``, ``category`` →
``{"category", "confidence", "out_of_office_until"}``, ``score`` → ``{"score", "reasons"}``;
any other name → ``{}``. The fault switches make the other
answers (docs/simulator.md): ``type: "incomplete"`` (``status: "incomplete"``,
``incomplete_details.reason: "max_output_tokens"``), ``type: "malformed_json"`` (output text
that is not JSON), ``output: {...}`` (that JSON instead), and the usual ``status``/
``retry_after``/``hang``/``latency_ms``. A fault's endpoint is ``responses`` (every call) or
``responses.<name>`` (one kind of call, e.g. ``responses.verdict``).
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

from starlette.responses import Response

from replydesk.sim.base import Route, SimRequest, ok

MODELS = ("gpt-4.1-mini", "gpt-4.1", "gpt-4o-mini")
ANSWER_KINDS = ("incomplete", "malformed_json")


def schema_name(body: Any) -> str:
    """The structured-output name of a Responses request, or ``""``."""
    if not isinstance(body, dict):
        return ""
    fmt = (body.get("text") or {}).get("format") if isinstance(body.get("text"), dict) else None
    name = fmt.get("name") if isinstance(fmt, dict) else None
    return name if isinstance(name, str) else ""


def _context(body: dict[str, Any]) -> dict[str, Any]:
    raw = body.get("input")
    if isinstance(raw, str):
        try:
            parsed = json.loads(raw)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def _draft(context: dict[str, Any]) -> dict[str, Any]:
    lead = context.get("lead") if isinstance(context.get("lead"), dict) else {}
    workspace = context.get("workspace") if isinstance(context.get("workspace"), dict) else {}
    first = (lead or {}).get("first_name") or "there"
    signature = (workspace or {}).get("signature") or ""
    subject = context.get("subject")
    body = (
        f"Hi {first},\n\nThanks for getting back to me. Happy to share more — would a short "
        f"call this week work for you?\n\n{signature}".rstrip()
    )
    return {"subject": f"Re: {subject}" if subject else None, "body": body}


class OpenAiSim:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    def routes(self) -> list[Route]:
        return [
            Route("openai", "POST", "/responses", "responses", self.respond),
            Route("openai", "GET", "/models", "models", self.models),
        ]

    async def models(self, req: SimRequest) -> Response:
        return ok({"object": "list", "data": [{"id": m, "object": "model"} for m in MODELS]})

    def answer(self, req: SimRequest, kind: str | None = None, output: Any = None) -> Response:
        """The response object; ``kind``/``output`` come from a fault switch."""
        body = req.json if isinstance(req.json, dict) else {}
        name = schema_name(body)
        self.calls.append({"name": name, "max_output_tokens": body.get("max_output_tokens")})
        if output is not None:
            data: Any = output
        elif name == "draft":
            data = _draft(_context(body))
        elif name == "verdict":
            data = {"verdict": "pass", "notes": "reads well; no problems found"}
        elif name == "category":
            data = {"category": "interested", "confidence": 0.9, "out_of_office_until": None}
        elif name == "score":
            data = {"score": 72, "reasons": ["asked for a call", "replied within a day"]}
        else:
            data = {}
        text = json.dumps(data)
        status, details = "completed", None
        if kind == "incomplete":
            status, details = "incomplete", {"reason": "max_output_tokens"}
            text = text[: max(1, len(text) // 2)]
        elif kind == "malformed_json":
            text = "Sure! Here is the JSON you asked for: {" + text[1:-1]
        n = next(self._ids)
        return ok(
            {
                "id": f"resp_sim{n:06d}",
                "object": "response",
                "created_at": int(time.time()),
                "status": status,
                "incomplete_details": details,
                "error": None,
                "model": body.get("model") or MODELS[0],
                "output": [
                    {
                        "id": f"msg_sim{n:06d}",
                        "type": "message",
                        "status": status,
                        "role": "assistant",
                        "content": [{"type": "output_text", "text": text, "annotations": []}],
                    }
                ],
                "parallel_tool_calls": True,
                "tool_choice": "auto",
                "tools": [],
                "usage": {
                    "input_tokens": len(str(body.get("input") or "")) // 4,
                    "input_tokens_details": {"cached_tokens": 0},
                    "output_tokens": len(text) // 4,
                    "output_tokens_details": {"reasoning_tokens": 0},
                    "total_tokens": (len(str(body.get("input") or "")) + len(text)) // 4,
                },
            }
        )

    async def respond(self, req: SimRequest) -> Response:
        return self.answer(req)
