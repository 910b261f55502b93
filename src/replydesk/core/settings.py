"""One typed settings object, read once at start (env prefix ``REPLYDESK_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob the service has; README lists each with its default."""

    model_config = SettingsConfigDict(env_prefix="REPLYDESK_", extra="ignore")

    # Database. Without a URL the embedded PostgreSQL (pgserver) in data_dir is used.
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("REPLYDESK_DATABASE_URL", "DATABASE_URL")
    )
    data_dir: Path = Path(".replydesk")
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_max_overflow: int = Field(default=5, ge=0, le=200)
    db_pool_timeout_s: float = Field(default=5.0, gt=0)
    db_connect_timeout_s: float = Field(default=2.0, gt=0)
    db_statement_timeout_ms: int = Field(default=15_000, ge=10)

    # HTTP server.
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = "info"
    readiness_timeout_s: float = Field(default=1.0, gt=0)

    # Webhook ingestion: its own small pool so a burst cannot starve the read API.
    ingest_pool_size: int = Field(default=4, ge=1, le=100)
    ingest_pool_timeout_s: float = Field(default=0.8, gt=0)
    ingest_statement_timeout_ms: int = Field(default=800, ge=10)
    ingest_budget_s: float = Field(default=1.8, gt=0)
    ingest_max_body_bytes: int = Field(default=1_048_576, ge=1024)
    ingest_auth_cache_ttl_s: float = Field(default=30.0, ge=0)

    # Feature flags.
    feature_ai_drafts: bool = False
    feature_slack_alerts: bool = False

    @property
    def embedded(self) -> bool:
        return not self.database_url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings are read once per process; tests build their own ``Settings``."""
    return Settings()
