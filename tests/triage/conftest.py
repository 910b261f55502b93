"""``replydesk triage`` run in-process (no database, no subprocess start-up)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from replydesk.cli.main import app


class Triage:
    def __init__(self) -> None:
        self.runner = CliRunner()

    def run(self, *args: str, stdin: str | bytes | None = None) -> Any:
        return self.runner.invoke(
            app, ["triage", *args], input=stdin, catch_exceptions=False, env={"COLUMNS": "250"}
        )

    def json(self, *args: str, stdin: str | bytes | None = None) -> dict[str, Any]:
        result = self.run(*args, "--format", "json", stdin=stdin)
        assert result.exit_code == 0, result.output
        report: dict[str, Any] = json.loads(result.stdout)
        return report


@pytest.fixture
def triage() -> Triage:
    return Triage()
