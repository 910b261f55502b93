"""One typed settings object, read once at start (env prefix ``REPLYDESK_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

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
    # Every API route's request body (webhooks have their own, ingest_max_body_bytes).
    api_max_body_bytes: int = Field(default=1_048_576, ge=1024)
    api_body_timeout_s: float = Field(default=10.0, gt=0)

    # Webhook ingestion: its own small pool so a burst cannot starve the read API.
    ingest_pool_size: int = Field(default=4, ge=1, le=100)
    ingest_pool_timeout_s: float = Field(default=0.8, gt=0)
    ingest_statement_timeout_ms: int = Field(default=800, ge=10)
    ingest_budget_s: float = Field(default=1.8, gt=0)
    ingest_max_body_bytes: int = Field(default=1_048_576, ge=1024)
    ingest_auth_cache_ttl_s: float = Field(default=30.0, ge=0)
    # Concurrent webhooks share one multi-row INSERT (docs/ingestion.md has the measurement).
    ingest_group_commit: bool = True
    ingest_group_commit_max_rows: int = Field(default=100, ge=1, le=1000)

    # Inbox read API: per-statement time budgets and the counts cache.
    counts_statement_timeout_ms: int = Field(default=1500, ge=1)
    counts_cache_persist_interval_s: float = Field(default=30.0, ge=0)
    inbox_statement_timeout_ms: int = Field(default=3000, ge=1)
    inbox_page_size_max: int = Field(default=200, ge=1, le=1000)

    # Auth: browser sessions (server-side rows) and login rate limits (per IP, per account).
    session_cookie_name: str = "rd_session"
    csrf_cookie_name: str = "rd_csrf"
    cookie_secure: bool = True
    cookie_samesite: Literal["lax", "strict"] = "lax"
    session_lifetime_s: int = Field(default=14 * 86_400, ge=60)
    session_idle_timeout_s: int = Field(default=3 * 86_400, ge=60)
    session_rotate_after_s: int = Field(default=3_600, ge=1)
    session_rotation_grace_s: int = Field(default=60, ge=0)
    login_window_s: int = Field(default=900, ge=1)
    login_max_attempts_per_ip: int = Field(default=30, ge=1)
    login_max_attempts_per_account: int = Field(default=10, ge=1)

    # Queue worker (docs/queue.md). A dead worker's items are back to pending within
    # worker_lease_s + worker_rescue_interval_s (40 s by default; keep it under 60 s).
    worker_concurrency: int = Field(default=4, ge=1, le=64)  # transactions in flight per table
    worker_batch_size: int = Field(default=40, ge=1, le=500)  # rows per claim statement
    worker_group_size: int = Field(default=10, ge=1, le=200)  # items sharing one transaction
    worker_item_budget_s: float = Field(default=30.0, gt=0)  # per item, handler + commit
    worker_lease_s: float = Field(default=30.0, ge=0.5)  # renewed every third of it
    worker_poll_interval_s: float = Field(default=1.0, gt=0, le=1.0)  # fallback to LISTEN
    worker_backoff_base_s: float = Field(default=2.0, gt=0)
    worker_backoff_cap_s: float = Field(default=600.0, gt=0)
    worker_rescue_interval_s: float = Field(default=10.0, ge=0.2, le=50.0)
    worker_synchronous_commit: bool = False  # see queue/worker.py: safe off for workers
    worker_rescue_batch: int = Field(default=500, ge=1, le=10_000)
    worker_shutdown_grace_s: float = Field(default=10.0, ge=0)

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
