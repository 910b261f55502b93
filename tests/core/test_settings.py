from __future__ import annotations

from pathlib import Path

import pytest

from replydesk.core.db import async_url
from replydesk.core.settings import Settings


def test_defaults_use_embedded_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REPLYDESK_DATABASE_URL", raising=False)
    s = Settings()
    assert s.embedded
    assert s.data_dir == Path(".replydesk")
    assert s.port == 8000


def test_env_prefix_and_database_url_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h:5432/d")
    monkeypatch.setenv("REPLYDESK_PORT", "9001")
    monkeypatch.setenv("REPLYDESK_FEATURE_SLACK_ALERTS", "true")
    s = Settings()
    assert not s.embedded
    assert s.database_url == "postgresql://u@h:5432/d"
    assert s.port == 9001
    assert s.feature_slack_alerts is True


def test_invalid_setting_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPLYDESK_PORT", "70000")
    with pytest.raises(ValueError, match="port"):
        Settings()


def test_only_postgresql_urls() -> None:
    assert async_url("postgres://u@h/d") == "postgresql+asyncpg://u@h/d"
    with pytest.raises(ValueError, match="PostgreSQL only"):
        async_url("sqlite:///x.db")
