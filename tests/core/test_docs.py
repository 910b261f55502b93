from __future__ import annotations

from pathlib import Path

from replydesk.core.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_documents_every_setting() -> None:
    text = README.read_text()
    missing = [
        f"REPLYDESK_{name.upper()}"
        for name in Settings.model_fields
        if f"`REPLYDESK_{name.upper()}`" not in text
    ]
    assert missing == []


def test_readme_opens_with_the_two_commands() -> None:
    head = README.read_text()[:400]
    assert "make run" in head
    assert "make test" in head
