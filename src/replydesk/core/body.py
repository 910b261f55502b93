"""Request bodies and text at the HTTP edge: content type, declared length, text PostgreSQL
cannot store. Shared by the API (``core/edge.py``, ``core/inputs.py``) and webhook ingestion."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from replydesk.core.errors import MalformedInput, TooLarge, UnsupportedFormat

# U+0000 cannot be stored in text or jsonb; a lone surrogate cannot be encoded as UTF-8.
_NUL = "\x00"
_SURROGATE = re.compile("[\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text, or None."""
    if _NUL in value:
        return "must not contain a NUL (\\u0000) character"
    if _SURROGATE.search(value):
        return "must not contain a lone surrogate (invalid Unicode)"
    return None


def find_invalid_text(value: Any, path: str = "") -> tuple[str, str] | None:
    """The dotted path of the first string (or key) in a JSON value that cannot be stored as
    text, with the reason; None when every string is fine."""
    if isinstance(value, str):
        problem = text_problem(value)
        return (path, problem) if problem else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            name = str(key)
            key_path = f"{path}.{name}" if path else name
            if (problem := text_problem(name)) is not None:
                return (path or "body", f"has a key that {problem.removeprefix('must ')}")
            if (found := find_invalid_text(item, key_path)) is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if found := find_invalid_text(item, f"{path}.{index}" if path else str(index)):
                return found
    return None


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
