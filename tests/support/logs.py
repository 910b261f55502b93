"""Captured log output: the rendered JSON lines, exactly as they would reach stdout."""

from __future__ import annotations

import io
import json
from typing import Any


class LogCapture:
    """Rendered JSON log lines, exactly as they would reach stdout."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines() if line.strip()]


def error_lines(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r.get("level") in ("error", "critical", "exception")]
