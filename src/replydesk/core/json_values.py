"""How error texts name a JSON value's type (never its content: it may be personal data)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_KINDS: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (bool, "a boolean"),  # before int: bool is an int subclass
    (int, "an integer"),
    (float, "a number with a fraction"),
    (str, "a string"),
    (list, "an array"),
    (Mapping, "an object"),
)


def describe_json_value(value: Any) -> str:
    """``"null"``, ``"a boolean"``, ``"an integer"``, ``"an array"`` … for an error text."""
    if value is None:
        return "null"
    for kind, name in _KINDS:
        if isinstance(value, kind):
            return name
    return type(value).__name__
