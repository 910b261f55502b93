"""Reading and decoding a webhook body: size cap while streaming, JSON content type, parse."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.requests import Request

from replydesk.core.errors import (
    InvalidInput,
    MalformedInput,
    TooLarge,
    UnsupportedFormat,
)
from replydesk.core.json_values import describe_json_value


def check_content_type(value: str | None) -> None:
    if not value:
        raise UnsupportedFormat("Content-Type header is missing; send application/json")
    media, _, params = value.partition(";")
    media = media.strip().lower()
    if media != "application/json" and not (
        media.startswith("application/") and media.endswith("+json")
    ):
        raise UnsupportedFormat(f"Content-Type must be application/json, got {media[:100]!r}")
    for param in params.split(";"):
        name, _, charset = param.partition("=")
        if name.strip().lower() == "charset":
            charset = charset.strip().strip('"').lower()
            if charset not in ("utf-8", "utf8"):
                raise UnsupportedFormat(f"JSON bodies must be UTF-8, got charset {charset[:40]!r}")


def check_content_length(value: str | None, limit: int) -> None:
    if value is None:
        return
    try:
        size = int(value)
    except ValueError:
        raise MalformedInput("Content-Length header is not a number") from None
    if size < 0:
        raise MalformedInput("Content-Length header is negative")
    if size > limit:
        raise TooLarge(f"body is {size} bytes; the limit is {limit} bytes")


async def read_capped(request: Request, limit: int) -> bytes:
    """The whole body, or 413 as soon as it exceeds ``limit`` (never buffers more than that)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, Mapping):
        return any("\x00" in k or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def parse_json_object(body: bytes) -> dict[str, Any]:
    if not body:
        raise MalformedInput("body is empty; send a JSON object")
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedInput(f"body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise InvalidInput(f"body must be a JSON object, got {describe_json_value(payload)}")
    # PostgreSQL's jsonb cannot hold U+0000; say so instead of failing in the database.
    if b"\\u0000" in body and _has_nul(payload):
        raise InvalidInput("body contains a \\u0000 (NUL) character, which cannot be stored")
    return payload
