"""Reading and decoding a webhook body: size cap while streaming, parse. The content type and
declared length checks are the API's too (``core/body.py``)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from replydesk.core.body import find_invalid_text
from replydesk.core.errors import InvalidInput, MalformedInput, TooLarge
from replydesk.core.json_values import describe_json_value


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
    if b"\\u0000" in body and (found := find_invalid_text(payload)) is not None:
        raise InvalidInput(
            f"{found[0] or 'body'} contains a \\u0000 (NUL) character, which cannot be stored"
        )
    return payload
