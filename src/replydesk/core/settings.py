"""One typed settings object, read once at start (env prefix ``REPLYDESK_``)."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def active_hours(value: str) -> tuple[int, int]:
    """``"start-end"`` in whole UTC hours, 0 ≤ start, end ≤ 24, start ≠ end (``"22-6"`` wraps
    past midnight)."""
    start, sep, end = value.strip().partition("-")
    if not sep or not start.strip().isdigit() or not end.strip().isdigit():
        raise ValueError(f"active hours must look like 8-20 (UTC hours), not {value!r}")
    a, b = int(start), int(end)
    if not (0 <= a <= 24 and 0 <= b <= 24) or a == b:
        raise ValueError(f"active hours must be two different hours from 0 to 24, not {value!r}")
    return a, b


def in_active_hours(value: str, hour: int) -> bool:
    a, b = active_hours(value)
    return a <= hour < b if a < b else hour >= a or hour < b


class Settings(BaseSettings):
    """Every knob the service has; README lists each with its default."""

    model_config = SettingsConfigDict(env_prefix="REPLYDESK_", extra="ignore")

    # Database. Without a URL the embedded PostgreSQL (pgserver) in data_dir is used.
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("REPLYDESK_DATABASE_URL", "DATABASE_URL")
    )
    # ``transaction``: the URL is a transaction-mode pooler (PgBouncer, Supavisor) — no
    # prepared statement outlives a transaction, no session state, every statement in a
    # transaction; LISTEN and migrations use ``database_direct_url`` when given (docs/deploy.md).
    database_pool_mode: Literal["session", "transaction"] = "session"
    database_direct_url: str | None = None
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
    # On SIGTERM, /readyz answers 503 at once while the process keeps serving (in-flight and
    # new requests) this long, so a load balancer stops sending first; then it exits.
    shutdown_drain_s: float = Field(default=5.0, ge=0, le=300)
    # Comma-separated IPs / CIDR networks of reverse proxies whose X-Forwarded-For and
    # X-Forwarded-Proto are believed. Empty (the default): no forwarded header is trusted and
    # the client address is the TCP peer's, which the login limits key on.
    trusted_proxies: str = ""
    # A connection must deliver a complete request head within this time (from connect, or
    # from the previous response on a kept-alive connection), else it is closed.
    http_header_timeout_s: float = Field(default=10.0, gt=0, le=300)
    http_keep_alive_timeout_s: int = Field(default=5, ge=1, le=300)
    # Request line + headers; a longer head is refused (431) and the connection closed.
    http_max_header_bytes: int = Field(default=32_768, ge=4096, le=1_048_576)
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
    # The outage spool (docs/ingestion.md): while the database is away, authenticated webhooks
    # are fsync-ed to <data_dir>/spool and answered 202, then replayed. Turn it off on hosts
    # without a durable local disk (containers with ephemeral storage) and when the data folder
    # is not on the host that serves (docs/runbook.md).
    spool_enabled: bool = True
    spool_max_bytes: int = Field(default=512 * 1024 * 1024, ge=1024)  # per API process
    spool_replay_interval_s: float = Field(default=5.0, gt=0, le=300)
    # During an outage a workspace's cached auth info is used past its TTL, up to this age.
    spool_auth_max_age_s: float = Field(default=3600.0, ge=0)

    # Inbox read API: per-statement time budgets and the counts cache.
    counts_statement_timeout_ms: int = Field(default=1500, ge=1)
    counts_cache_persist_interval_s: float = Field(default=30.0, ge=0)
    # Snoozes that ended are woken (leads.snooze_active cleared, so the inbox counter rows
    # take them back) this often, at most this many leads per batch. Counts are exact in
    # between (the read adds the ended ones); this keeps that addition small.
    snooze_wake_interval_s: float = Field(default=30.0, ge=1, le=3600)
    snooze_wake_batch_size: int = Field(default=1000, ge=1, le=100_000)
    inbox_statement_timeout_ms: int = Field(default=3000, ge=1)
    inbox_page_size_max: int = Field(default=200, ge=1, le=1000)

    # Auth: browser sessions (server-side rows) and login rate limits (per IP, per
    # account from one IP, account-wide ceiling; see auth/throttle.py).
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
    # Per account *from one client IP* (failures from elsewhere cannot lock its owner out).
    login_max_attempts_per_account: int = Field(default=10, ge=1)
    # Administration: invitation links, and how long a rotated webhook token keeps working.
    invitation_lifetime_s: int = Field(default=7 * 86_400, ge=60)
    webhook_token_grace_s: int = Field(default=86_400, ge=0)
    # Per account from anywhere: above it each client IP gets one attempt per window.
    login_account_ceiling: int = Field(default=100, ge=1)

    # Queue worker (docs/queue.md). A dead worker's items are back to pending within
    # worker_lease_s + worker_rescue_interval_s (40 s by default; keep it under 60 s).
    worker_concurrency: int = Field(default=4, ge=1, le=64)  # transactions in flight per table
    worker_batch_size: int = Field(default=200, ge=1, le=500)  # rows per claim statement
    worker_group_size: int = Field(default=10, ge=1, le=200)  # items sharing one transaction
    # Webhook events sharing one transaction: message events of a group are applied
    # set-based, so bigger groups cost fewer statements per event (docs/decisions/0018).
    worker_event_group_size: int = Field(default=50, ge=1, le=500)
    worker_item_budget_s: float = Field(default=30.0, gt=0)  # per item, handler + commit
    worker_lease_s: float = Field(default=30.0, ge=0.5)  # renewed every third of it
    worker_poll_interval_s: float = Field(default=1.0, gt=0, le=1.0)  # fallback to LISTEN
    worker_backoff_base_s: float = Field(default=2.0, gt=0)
    worker_backoff_cap_s: float = Field(default=600.0, gt=0)
    worker_rescue_interval_s: float = Field(default=10.0, ge=0.2, le=50.0)
    worker_synchronous_commit: bool = False  # see queue/worker.py: safe off for workers
    worker_rescue_batch: int = Field(default=500, ge=1, le=10_000)
    worker_shutdown_grace_s: float = Field(default=10.0, ge=0)
    # `replydesk serve`'s worker: a child process at this CPU niceness (request handling
    # first; docs/benchmarks.md "One-process serve"), or `inline` on the API's event loop.
    serve_worker: Literal["process", "inline"] = "process"
    serve_worker_nice: int = Field(default=10, ge=0, le=19)
    # The attempt history (queue_attempts) of older attempts is pruned.
    queue_attempts_retention_days: int = Field(default=30, ge=1, le=3650)

    # Retention (docs/queue.md "Retention"): periodic tasks prune in bounded batches, each
    # table by its owner. Windows count from when a row was received/created (sessions: from
    # their expiry; alerts: from their delivery). Dead items are never pruned by the processed
    # windows: they stay until replayed or discarded, or retention_dead_days when set (> 0).
    retention_webhook_payload_days: int = Field(default=7, ge=1, le=3650)  # payload → {}
    retention_webhook_events_days: int = Field(default=30, ge=1, le=3650)  # processed rows
    retention_jobs_days: int = Field(default=30, ge=1, le=3650)  # finished jobs
    retention_dead_days: int = Field(default=0, ge=0, le=36500)  # 0: until replay/discard
    retention_alerts_days: int = Field(default=90, ge=1, le=3650)  # delivered alerts
    retention_sessions_days: int = Field(default=0, ge=0, le=3650)  # after expires_at
    retention_login_throttles_days: int = Field(default=1, ge=1, le=365)  # counter windows
    retention_scheduler_slots_days: int = Field(default=1, ge=1, le=365)
    retention_interval_s: float = Field(default=600.0, ge=1)  # how often each task runs
    retention_batch_size: int = Field(default=1000, ge=1, le=50_000)  # rows per statement
    retention_max_batches: int = Field(default=20, ge=1, le=1000)  # statements per run

    # Credentials at rest (docs/integrations.md): a Fernet key; the embedded mode generates
    # one into data_dir/secret_key. The old key is only read, for rotation.
    secret_key: SecretStr | None = None
    secret_key_old: SecretStr | None = None
    # Outbound calls to user-set URLs: public https addresses only unless this is true
    # (simulator, tests, on-premise), which also allows http.
    outbound_allow_private: bool = False
    health_check_interval_s: float = Field(default=300.0, ge=5)
    health_check_timeout_s: float = Field(default=10.0, gt=0, le=60)
    health_check_batch: int = Field(default=500, ge=1, le=10_000)  # checks queued per run

    # Provider API clients (docs/integrations.md, "Clients"): per-call timeouts; reads and
    # idempotent calls are retried with jittered backoff within the budget, sends never.
    provider_connect_timeout_s: float = Field(default=5.0, gt=0)
    provider_read_timeout_s: float = Field(default=15.0, gt=0)
    provider_send_timeout_s: float = Field(default=30.0, gt=0)  # read timeout of a send
    provider_retry_budget_s: float = Field(default=30.0, gt=0)  # all attempts of one call
    provider_retry_max_attempts: int = Field(default=4, ge=1, le=10)
    provider_retry_backoff_base_s: float = Field(default=0.5, gt=0)
    provider_retry_backoff_cap_s: float = Field(default=8.0, gt=0)
    # A Retry-After longer than this is not waited for in the call: the error carries it.
    provider_retry_after_max_s: float = Field(default=20.0, ge=0)

    # Replies (docs/integrations.md, "Replying"): a send that cannot go now is held (its job
    # rescheduled), never failed for a wait: a gate (disconnected/auth_failed) is looked at
    # again every recheck; provider errors back off from base, doubling, up to the retries;
    # a reply held longer than max_hold fails. Consecutive send errors make a provider
    # degraded from the streak.
    reply_send_gate_recheck_s: float = Field(default=300.0, gt=0)
    reply_send_error_backoff_s: float = Field(default=30.0, gt=0)
    reply_send_error_retries: int = Field(default=5, ge=0, le=20)
    reply_send_max_hold_s: float = Field(default=172_800.0, gt=0)
    reply_body_max_length: int = Field(default=20_000, ge=1, le=200_000)
    provider_degraded_streak: int = Field(default=3, ge=1, le=100)
    # Metrics (GET /metrics, docs/metrics.md). Without a token the endpoint answers 404: it
    # is never open by default. The shared directory of the processes' metric files.
    metrics_token: SecretStr | None = None
    metrics_dir: Path | None = None
    metrics_query_timeout_ms: int = Field(default=1000, ge=10, le=30_000)
    # Slow-path log lines (docs/metrics.md): thresholds, and step-level timings in them.
    log_slow_webhook_s: float = Field(default=2.0, gt=0)
    log_slow_counts_s: float = Field(default=1.0, gt=0)
    log_slow_paths: bool = False
    # Periodic runs' circuit breaker on database connectivity (docs/runbook.md): open after
    # this many consecutive connection failures, probe again after the cooldown.
    db_breaker_failures: int = Field(default=3, ge=1, le=100)
    db_breaker_cooldown_s: float = Field(default=30.0, gt=0, le=3600)
    # Daily Slack digest per workspace (docs/automation.md "Attention SLA"): the UTC hour
    # from which it is recorded, and how many workspaces one run handles.
    digest_hour_utc: int = Field(default=8, ge=0, le=23)
    digest_batch: int = Field(default=200, ge=1, le=10_000)
    # Alert outbox (docs/queue.md "Alerts"): the sweep queueing Slack deliveries.
    alert_delivery_interval_s: float = Field(default=10.0, ge=1)
    alert_delivery_batch: int = Field(default=200, ge=1, le=10_000)
    alert_delivery_max_attempts: int = Field(default=8, ge=1, le=50)
    # EmailBison reconciliation (docs/integrations.md "Sync and reconciliation").
    reconcile_interval_s: float = Field(default=300.0, ge=5)
    reconcile_max_pages: int = Field(default=10, ge=1, le=100)  # reply pages per run
    reconcile_budget_s: float = Field(default=20.0, gt=0, le=120)  # provider time per run
    reconcile_batch: int = Field(default=500, ge=1, le=10_000)  # workspaces queued per run
    # Per-lead sync: provider time per sync job.
    lead_sync_budget_s: float = Field(default=20.0, gt=0, le=120)
    lead_sync_chat_pages: int = Field(default=5, ge=1, le=100)  # LinkedIn pages (50) per chat
    # A provider that goes quiet: silent for silence_factor x its usual gap (and at least
    # silence_min_s) during the active hours (UTC, "start-end", e.g. "8-20"; "22-6" wraps).
    silence_factor: float = Field(default=6.0, gt=1)
    silence_active_hours: str = "0-24"
    silence_interval_s: float = Field(default=300.0, ge=5)
    silence_min_s: float = Field(default=1800.0, ge=0)
    silence_samples: int = Field(default=50, ge=3, le=1000)  # recent webhooks measured
    silence_min_samples: int = Field(default=10, ge=2, le=1000)  # fewer: no judgement
    silence_batch: int = Field(default=500, ge=1, le=10_000)  # integrations per run

    # AI provider (docs/automation.md "AI provider"): the instance default, used by every
    # workspace without its own ``PUT integrations/openai``. No key anywhere: the offline
    # engine does everything (template drafts). Calls go through the official openai SDK
    # (Responses API, structured JSON), each with its own timeout and output-token budget;
    # retryable failures (timeouts, 429, 5xx) are tried again within the attempts, then the
    # deterministic fallback. A truncated answer is tried once more with the larger budget.
    ai_base_url: str = "https://api.openai.com/v1"
    ai_api_key: SecretStr | None = None
    ai_model: str = Field(default="gpt-4.1-mini", min_length=1, max_length=200)
    ai_timeout_s: float = Field(default=10.0, gt=0, le=300)  # one generation call
    ai_verifier_timeout_s: float = Field(default=6.0, gt=0, le=300)  # the best-effort verifier
    ai_max_output_tokens: int = Field(default=700, ge=16, le=32_000)
    ai_verifier_max_output_tokens: int = Field(default=300, ge=16, le=32_000)
    # The categorisation and lead-score answers are short JSON objects.
    ai_category_max_output_tokens: int = Field(default=120, ge=16, le=32_000)
    ai_score_max_output_tokens: int = Field(default=300, ge=16, le=32_000)
    ai_truncation_retry_factor: float = Field(default=2.0, ge=1, le=8)
    ai_max_attempts: int = Field(default=3, ge=1, le=10)  # timeouts, 429, 5xx
    ai_backoff_base_s: float = Field(default=0.5, gt=0)
    ai_backoff_cap_s: float = Field(default=8.0, gt=0)
    ai_retry_after_max_s: float = Field(default=10.0, ge=0)  # longer Retry-After: fall back
    # Drafts: the longest body a draft may have (longer fails the verifier's checks).
    draft_body_max_length: int = Field(default=3000, ge=100, le=200_000)

    # Follow-up sequences (docs/automation.md "Sequences"): the ``automation.followup_tick``
    # periodic task runs this often; each run claims batches of at most this many due steps
    # (FOR UPDATE SKIP LOCKED) until none is due or its time budget is spent.
    followup_tick_interval_s: float = Field(default=60.0, ge=1, le=3600)
    followup_batch_size: int = Field(default=100, ge=1, le=5000)
    followup_time_budget_s: float = Field(default=20.0, gt=0, le=300)

    # Feature flags.
    feature_slack_alerts: bool = False

    @field_validator("silence_active_hours")
    @classmethod
    def _active_hours(cls, value: str) -> str:
        active_hours(value)
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_networks(cls, value: str) -> str:
        for entry in _split(value):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"trusted_proxies: {entry!r} is not an IP address or CIDR network"
                ) from None
        return value

    @model_validator(mode="after")
    def _payload_goes_before_the_row(self) -> Settings:
        if self.retention_webhook_payload_days > self.retention_webhook_events_days:
            raise ValueError(
                "retention_webhook_payload_days must not exceed retention_webhook_events_days"
            )
        if self.retention_jobs_days < self.retention_webhook_events_days:
            # A re-delivered event older than its row re-enqueues its message's jobs; their
            # dedupe keys must still be there to hold them (docs/queue.md "Retention").
            raise ValueError("retention_jobs_days must be at least retention_webhook_events_days")
        return self

    @property
    def embedded(self) -> bool:
        return not self.database_url

    @property
    def trusted_proxy_list(self) -> list[str]:
        return _split(self.trusted_proxies)


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings are read once per process; tests build their own ``Settings``."""
    return Settings()
