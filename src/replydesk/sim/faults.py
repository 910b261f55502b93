"""Fault switches and the request log of the simulator."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

from replydesk.sim.base import PREFIXES
from replydesk.sim.openai import ANSWER_KINDS

# Headers whose values are credentials: the log keeps only their last four characters.
_SECRET_HEADERS = ("authorization", "x-api-key")
HANG_MAX_S = 600.0


class FaultError(ValueError):
    """A fault switch that cannot be applied (unknown provider, bad status)."""


@dataclass
class Fault:
    """What the matching requests get. ``endpoint`` is a route's short name (``replies.reply``)
    or ``*``; ``status`` answers with that provider's real error body (``error_type`` picks the
    Unipile type, ``message`` overrides the text); ``retry_after`` adds ``Retry-After``;
    ``latency_ms`` delays the answer; ``hang`` never answers (until the faults are cleared);
    ``after_effect`` performs the operation first (a send that is delivered, then fails);
    ``times`` limits how many requests it applies to. OpenAI only: ``type`` ``incomplete`` or
    ``malformed_json`` and ``output`` (a JSON value) change a 200 answer (sim/openai.py)."""

    id: int
    provider: str
    endpoint: str = "*"
    status: int | None = None
    error_type: str | None = None
    message: str | None = None
    retry_after: int | None = None
    latency_ms: int = 0
    hang: bool = False
    after_effect: bool = False
    times: int | None = None
    output: Any = None
    hits: int = 0

    @classmethod
    def from_json(cls, fault_id: int, body: Any) -> Fault:
        if not isinstance(body, dict):
            raise FaultError("a fault is a JSON object")
        provider = body.get("provider")
        if provider not in PREFIXES:
            raise FaultError(f"provider must be one of {', '.join(PREFIXES)}")
        allowed = {f for f in cls.__dataclass_fields__ if f not in ("id", "hits")}
        unknown = sorted(set(body) - allowed - {"type"})
        if unknown:
            raise FaultError(f"unknown fault fields: {', '.join(unknown)}")
        fields = {k: v for k, v in body.items() if k in allowed}
        if "type" in body:
            fields["error_type"] = body["type"]
        fault = cls(id=fault_id, **fields)
        if fault.status is not None and not (
            isinstance(fault.status, int) and 400 <= fault.status <= 599
        ):
            raise FaultError("status must be an HTTP error status (400-599)")
        if fault.status is None and fault.retry_after is not None:
            fault.status = 429
        shapes_answer = fault.provider == "openai" and (
            fault.error_type in ANSWER_KINDS or fault.output is not None
        )
        if fault.provider != "openai" and fault.output is not None:
            raise FaultError("output is for the openai simulator only")
        if fault.status is None and not fault.hang and not fault.latency_ms and not shapes_answer:
            raise FaultError(
                "a fault needs status, retry_after, latency_ms or hang (openai also: "
                "type incomplete | malformed_json, or output)"
            )
        return fault

    def public(self) -> dict[str, Any]:
        return asdict(self)


class FaultBook:
    """Active faults, newest first wins; clearing releases every hanging request."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self._release = asyncio.Event()

    def add(self, body: Any) -> Fault:
        fault = Fault.from_json(next(self._ids), body)
        self._faults.insert(0, fault)
        return fault

    def list(self) -> list[dict[str, Any]]:
        return [f.public() for f in self._faults]

    def clear(self, provider: str | None = None) -> int:
        before = len(self._faults)
        self._faults = [f for f in self._faults if provider is not None and f.provider != provider]
        self.release_hangs()
        return before - len(self._faults)

    def release_hangs(self) -> None:
        self._release.set()
        self._release = asyncio.Event()

    def take(self, provider: str, endpoint: str) -> Fault | None:
        for fault in self._faults:
            # "responses" matches "responses.verdict": one switch for every call of a route.
            if fault.provider == provider and (
                fault.endpoint in ("*", endpoint) or endpoint.startswith(fault.endpoint + ".")
            ):
                fault.hits += 1
                if fault.times is not None and fault.hits >= fault.times:
                    self._faults.remove(fault)
                return fault
        return None

    async def hang(self) -> None:
        """Wait until the faults are cleared or the server stops (at most ``HANG_MAX_S``)."""
        release = self._release
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(release.wait(), HANG_MAX_S)


def _masked(name: str, value: str) -> str:
    if name in _SECRET_HEADERS:
        return f"…{value[-4:]}" if len(value) > 8 else "…"
    return value


class RequestLog:
    """The last ``limit`` requests, oldest first."""

    def __init__(self, limit: int = 2000) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=limit)
        self._seq = itertools.count(1)

    def record(
        self,
        *,
        provider: str,
        endpoint: str,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        body: Any,
    ) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "seq": next(self._seq),
            "at": time.time(),
            "provider": provider,
            "endpoint": endpoint,
            "method": method,
            "path": path,
            "query": query,
            "headers": {k: _masked(k, v) for k, v in headers.items()},
            "body": body,
            "status": None,
            "fault": None,
        }
        self._entries.append(entry)
        return entry

    def list(self, provider: str | None = None, endpoint: str | None = None) -> list[Any]:
        return [
            e
            for e in self._entries
            if (provider is None or e["provider"] == provider)
            and (endpoint is None or e["endpoint"] == endpoint)
        ]

    def clear(self) -> None:
        self._entries.clear()
