"""Input rules every API route shares: declared query parameters only, text PostgreSQL can
store, JSON bodies only, and a datetime type bounded to what the database and the product
mean by a date.

``check_request`` is an app-wide dependency (``core/http.py: new_api``), so a route added
later gets the same rules without doing anything.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, Field

from replydesk.core.body import check_content_type, find_invalid_text, text_problem
from replydesk.core.errors import InvalidInput

DATETIME_MIN = datetime(1970, 1, 1, tzinfo=UTC)
DATETIME_MAX = datetime(2200, 1, 1, tzinfo=UTC)


_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _no_numbers(value: Any) -> Any:
    # Pydantic reads numbers (and numeric strings) as unix times: -1e12 would be 1938.
    if isinstance(value, bool | int | float):
        raise ValueError("must be an ISO 8601 date-time string with a time zone, not a number")
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        raise ValueError("must be an ISO 8601 date-time string with a time zone, not a number")
    return value


def _in_range(value: datetime) -> datetime:
    # Check the year first: converting 9999-12-31T23:59-14:00 to UTC overflows.
    if not DATETIME_MIN.year - 1 <= value.year <= DATETIME_MAX.year or not (
        DATETIME_MIN <= value.astimezone(UTC) < DATETIME_MAX
    ):
        raise ValueError(
            f"must be from {DATETIME_MIN.isoformat()} up to {DATETIME_MAX.isoformat()}"
        )
    return value


ApiDatetime = Annotated[
    AwareDatetime,
    BeforeValidator(_no_numbers),
    AfterValidator(_in_range),
    Field(
        description="ISO 8601 with a time zone, from 1970-01-01T00:00:00Z up to "
        "2200-01-01T00:00:00Z (exclusive)"
    ),
]
"""A datetime an API client sends: a string with a time zone, inside 1970 to 2200 (UTC)."""


_QUERY_NAMES: dict[int, frozenset[str]] = {}


def declared_query_names(route: APIRoute) -> frozenset[str]:
    """The query parameters ``route`` declares: its signature and dependencies, plus any
    documented in ``openapi_extra`` (routes that read ``request.query_params`` themselves)."""
    names = _QUERY_NAMES.get(id(route))
    if names is None:
        extra = (route.openapi_extra or {}).get("parameters", [])
        names = frozenset(
            [*_signature_query_names(route.dependant)]
            + [p["name"] for p in extra if isinstance(p, dict) and p.get("in") == "query"]
        )
        _QUERY_NAMES[id(route)] = names
    return names


def _signature_query_names(root: Dependant) -> set[str]:
    names: set[str] = set()
    pending = [root]
    while pending:
        dependant = pending.pop()
        pending.extend(dependant.dependencies)
        for param in dependant.query_params:
            model = param.field_info.annotation
            if isinstance(model, type) and issubclass(model, BaseModel):  # a query model
                names.update(f.alias or n for n, f in model.model_fields.items())
            else:
                names.add(param.alias)
    return names


def _shown(name: str) -> str:
    return repr(name[:40] + ("…" if len(name) > 40 else ""))


async def check_request(request: Request) -> None:
    """Refuse, with 422 naming the parameter or field: undeclared query parameters, and text
    that cannot be stored (NUL, lone surrogates) in query, path or JSON body. A route with a
    body accepts JSON only (415). Runs before authentication and the route's own validation."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    params = request.query_params
    allowed = declared_query_names(route)
    unknown = sorted({k for k in params if k not in allowed})
    if unknown:
        shown = ", ".join(_shown(k) for k in unknown[:5])
        expected = ", ".join(sorted(allowed)) or "none"
        raise InvalidInput(f"unknown query parameter {shown}; this route takes: {expected}")
    for name, value in params.multi_items():
        if (problem := text_problem(value)) is not None:
            raise InvalidInput(f"{name}: {problem}")
    for name, value in request.path_params.items():
        if isinstance(value, str) and (problem := text_problem(value)) is not None:
            raise InvalidInput(f"{name}: {problem}")
    if route.body_field is not None:
        body = await request.body()  # already read (and size-capped) by FastAPI
        if body:
            check_content_type(request.headers.get("content-type"))
            # Fast path: only bodies with escapes can hold a NUL or a lone surrogate.
            if b"\\u" in body:
                found = find_invalid_text(await request.json())
                if found is not None:
                    raise InvalidInput(f"{found[0] or 'body'}: {found[1]}")
