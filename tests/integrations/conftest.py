"""Integration settings tests: a configured secret key; tests needing none build their own."""

from __future__ import annotations

from typing import Any

import pytest

from replydesk.core.settings import Settings
from tests.support.integrations import SECRET_KEY
from tests.support.sim import sim

__all__ = ["SECRET_KEY", "settings", "sim"]


@pytest.fixture
def settings(database_url: str, tmp_path: Any) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path / "data", secret_key=SECRET_KEY)
