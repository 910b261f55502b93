"""Tolerant readers for stored provider payloads (ids as strings or numbers, missing blocks).

Used when an event is processed: a value that is missing or malformed reads as None, and a
required one raises ``InvalidInput`` (the queue marks the event dead: retrying cannot help).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from replydesk.core.errors import InvalidInput
from replydesk.integrations.keys import get_path


def block(payload: Any, path: str) -> Mapping[str, Any]:
    node = get_path(payload, path)
    return node if isinstance(node, Mapping) else {}


def text_or_none(value: Any, limit: int = 100_000) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value[:limit] if value else None


def int_id(value: Any, path: str) -> int:
    """A provider integer id given as a number or a numeric string; permanent error otherwise."""
    if isinstance(value, bool):
        raise InvalidInput(f"{path} must be an integer id")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if value is None:
        raise InvalidInput(f"{path} is required")
    raise InvalidInput(f"{path} must be an integer id")


def optional_int(value: Any) -> int | None:
    try:
        return int_id(value, "")
    except InvalidInput:
        return None


def str_id(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    return text_or_none(value, 512)


def timestamp(value: Any) -> datetime | None:
    """ISO-8601 text (``Z`` or offset; naive = UTC) or epoch seconds/milliseconds."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    text = text_or_none(value, 64)
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def first_time(*values: Any) -> datetime | None:
    for value in values:
        parsed = timestamp(value)
        if parsed is not None:
            return parsed
    return None


def split_name(full: Any) -> tuple[str | None, str | None]:
    text = text_or_none(full, 300)
    if text is None:
        return None, None
    first, _, last = text.partition(" ")
    return first or None, last.strip() or None
