"""Opaque keyset cursors: base64url JSON of the last row's sort key."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from replydesk.core.errors import MalformedInput

MAX_ID = 2**63 - 1


MAX_TIER = 9


def encode(kind: str, at: datetime | None, row_id: int, tier: int | None = None) -> str:
    """``tier``: for streams merged from several tables, which one the row came from."""
    data: dict[str, Any] = {"k": kind, "t": at.isoformat() if at else None, "i": row_id}
    if tier is not None:
        data["s"] = tier
    raw = json.dumps(data)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(kind: str, cursor: str) -> tuple[datetime | None, int]:
    """The (timestamp, id) a cursor of this ``kind`` carries; 400 for anything else."""
    at, _, row_id = decode_tiered(kind, cursor)
    return at, row_id


def decode_tiered(kind: str, cursor: str) -> tuple[datetime | None, int, int]:
    """(timestamp, tier, id); the tier is 0 when the cursor has none."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data: Any = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(data, dict) or data.get("k") != kind:
            raise ValueError("wrong kind")
        row_id = data["i"]
        if not isinstance(row_id, int) or isinstance(row_id, bool) or not 0 < row_id <= MAX_ID:
            raise ValueError("bad id")
        at = data["t"]
        parsed = None if at is None else datetime.fromisoformat(at)
        if parsed is not None and parsed.tzinfo is None:
            raise ValueError("naive timestamp")
        tier = data.get("s", 0)
        if not isinstance(tier, int) or isinstance(tier, bool) or not 0 <= tier <= MAX_TIER:
            raise ValueError("bad tier")
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise MalformedInput(
            f"cursor is not a valid {kind} cursor; use next_cursor as given"
        ) from exc
    return parsed, tier, row_id


def encode_rank(kind: str, rank: int | None, row_id: int) -> str:
    """A cursor on an integer sort key (e.g. a score; None sorts last) and the row id."""
    raw = json.dumps({"k": kind, "r": rank, "i": row_id})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_rank(kind: str, cursor: str, *, low: int, high: int) -> tuple[int | None, int]:
    """The (rank, id) a cursor of this ``kind`` carries; 400 for anything else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data: Any = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(data, dict) or data.get("k") != kind:
            raise ValueError("wrong kind")
        row_id, rank = data["i"], data["r"]
        if not isinstance(row_id, int) or isinstance(row_id, bool) or not 0 < row_id <= MAX_ID:
            raise ValueError("bad id")
        if rank is not None and (
            not isinstance(rank, int) or isinstance(rank, bool) or not low <= rank <= high
        ):
            raise ValueError("bad rank")
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise MalformedInput(
            f"cursor is not a valid {kind} cursor; use next_cursor as given"
        ) from exc
    return rank, row_id
