"""The README's command-line list names every command the CLI has."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from replydesk.cli.main import app

README = Path(__file__).resolve().parents[2] / "README.md"


def _commands(command: Any, prefix: str) -> list[str]:
    if hasattr(command, "commands"):  # a group
        return [
            path
            for name, sub in sorted(command.commands.items())
            for path in _commands(sub, f"{prefix} {name}".strip())
        ]
    return [prefix]


def test_readme_lists_every_cli_command() -> None:
    commands = _commands(typer.main.get_command(app), "")
    assert {"workspace list", "webhook-token rotate", "token list", "token revoke"} <= set(commands)
    text = README.read_text()
    missing = [c for c in commands if f"replydesk {c}" not in text]
    assert missing == []
