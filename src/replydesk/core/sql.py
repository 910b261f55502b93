"""Named SQL statements, parsed once.

``text()`` parses bind parameters with a regex on every call; repositories build their
statements through ``statement()`` so each distinct text is parsed once per process.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from functools import lru_cache

from sqlalchemy import TextClause, text


@lru_cache(maxsize=1024)
def statement(sql: str) -> TextClause:
    return text(sql)


def sql_values(values: Iterable[StrEnum]) -> str:
    """``('a', 'b')``: a vocabulary as an SQL list, for CHECK constraints and statements whose
    planner must see constants (partial index predicates). Only our own enum values."""
    return "(" + ", ".join(f"'{v.value}'" for v in values) + ")"
