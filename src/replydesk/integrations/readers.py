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

# What PostgreSQL can store: ids go into BIGINT columns, times into timestamptz. A value
# outside is refused on the request path (422 naming it) instead of failing in the worker.
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
EARLIEST_TIME = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(2200, 1, 1, tzinfo=UTC)


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


def _time_in_range(value: datetime) -> bool:
    try:
        return EARLIEST_TIME <= value <= LATEST_TIME
    except OverflowError:  # e.g. 0001-01-01T00:00:00+14:00 is before year 1 in UTC
        return False


def _fits_bigint(value: Any) -> bool:
    """False for an integer (or a string of ASCII digits) beyond BIGINT; True otherwise.
    A JSON integer too long for 64 bits arrives as a float (orjson): judged by its value."""
    if isinstance(value, bool):
        return True
    if isinstance(value, float) and value.is_integer():
        return BIGINT_MIN <= value <= BIGINT_MAX
    if isinstance(value, str):
        text = value.strip()
        digits = text.removeprefix("-")
        if not (digits.isascii() and digits.isdecimal()):
            return True
        if len(digits.lstrip("0")) > len(str(BIGINT_MAX)):
            return False  # and never int() a 10 000-digit string
        value = int(text)
    if isinstance(value, int):
        return BIGINT_MIN <= value <= BIGINT_MAX
    return True


def check_storable(payload: Any, *, ids: tuple[str, ...] = (), times: tuple[str, ...] = ()) -> None:
    """422 naming the field when an integer id at one of ``ids`` does not fit a BIGINT, or a
    time at one of ``times`` is outside 1970 to 2200. Other shapes are left to the readers."""
    for path in ids:
        if not _fits_bigint(get_path(payload, path)):
            raise InvalidInput(f"{path} is out of range (an id of at most {BIGINT_MAX})")
    for path in times:
        parsed = timestamp(get_path(payload, path))
        if parsed is not None and not _time_in_range(parsed):
            raise InvalidInput(
                f"{path} is out of range (a time between {EARLIEST_TIME.year} "
                f"and {LATEST_TIME.year})"
            )


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
