"""Integration settings tests: a configured secret key; tests needing none build their own."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.fernet import Fernet

from replydesk.core.settings import Settings
from tests.support.sim import sim

__all__ = ["settings", "sim"]

SECRET_KEY = Fernet.generate_key().decode()


@pytest.fixture
def settings(database_url: str, tmp_path: Any) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path / "data", secret_key=SECRET_KEY)
