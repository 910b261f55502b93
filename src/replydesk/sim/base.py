"""What the simulated providers share: the parsed request, a route, the JSON answer."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import JSONResponse, PlainTextResponse, Response

# Each provider is served under its own base URL prefix: http://127.0.0.1:P/<prefix>.
PREFIXES = ("emailbison", "ghl", "unipile", "slack", "openai")


@dataclass
class SimRequest:
    provider: str
    endpoint: str
    method: str
    path: str  # below the provider prefix, e.g. /api/replies/93001/reply
    params: dict[str, str]  # path parameters
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    json: Any = None
    form: dict[str, list[str]] = field(default_factory=dict)

    def arg(self, name: str) -> Any:
        """A body field from JSON or a form (first value), None when absent."""
        if isinstance(self.json, dict) and name in self.json:
            return self.json[name]
        values = self.form.get(name)
        return values[0] if values else None

    def args(self, name: str) -> list[Any]:
        if isinstance(self.json, dict) and name in self.json:
            value = self.json[name]
            return value if isinstance(value, list) else [value]
        return self.form.get(name, []) or self.form.get(f"{name}[]", [])

    def query_arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


Handler = Callable[[SimRequest], Awaitable[Response]]


@dataclass(frozen=True)
class Route:
    provider: str
    method: str
    template: str  # e.g. /api/replies/{id}/reply
    endpoint: str  # the short name fault switches use, e.g. replies.reply
    handler: Handler

    @property
    def pattern(self) -> re.Pattern[str]:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.template)
        return re.compile(f"^{regex}$")

    def matches(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.method:
            return None
        found = self.pattern.match(path)
        return found.groupdict() if found else None


def ok(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status, headers=headers)


def text(body: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return PlainTextResponse(body, status_code=status, headers=headers)
