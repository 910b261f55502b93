"""The one table that maps log messages to categories, and what each category means.

A message takes the category of the FIRST rule whose pattern it matches (so the specific rules
come before the general ones: an "expected skip" that names GHL is not a GHL error, an Unipile
401 that says "Disconnected account" is a disconnect, not bad credentials). Patterns are RE2
(DuckDB's regex engine), matched case-insensitively against the raw message, before the
signature strips its numbers (SQLSTATE 57014, Prisma P2024 and HTTP statuses carry meaning).

A line that carries a ``category`` of this vocabulary (ReplyDesk's own logs) keeps it. A line
no rule matches is ``other`` when it is at warning level or above, or answered 5xx; otherwise
it is ordinary traffic: counted in ``rows`` and ``paths``, not in ``categories``.
Each rule has a test (tests/triage/test_rules.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from replydesk.triage.vocabulary import Category, Priority


@dataclass(frozen=True)
class Rule:
    category: Category
    pattern: str  # RE2, case-insensitive


RULES: tuple[Rule, ...] = (
    # An expected no-op logged as a warning (principle 5: it should be info).
    Rule(
        Category.EXPECTED_SKIP,
        r"has no (ghl |crm )?contact( id)?|no crm contact|skipp(ed|ing)\b|already (processed|sent)"
        r"|nothing to (do|sync)|\bwebhook_duplicate\b",
    ),
    # The platform killed the request: the request path is down.
    Rule(
        Category.RUNTIME_TIMEOUT,
        r"task timed out after|runtime timeout|function_invocation_timeout"
        r"|function (invocation )?timed out|execution timed out|gateway time-?out",
    ),
    # PostgreSQL cancelled a statement (SQLSTATE 57014).
    Rule(
        Category.DB_TIMEOUT,
        r"statement[ _]timeout|\b57014\b|canceling statement due to|query_canceled",
    ),
    # Waiting for a connection or a transaction slot (Prisma P2024/P2028, SQLAlchemy pool).
    Rule(
        Category.DB_POOL_WAIT,
        r"\bP2024\b|\bP2028\b|timed out fetching a new connection|connection pool"
        r"|unable to start a transaction|transaction api error|queuepool limit|pool[ _]timeout"
        r"|pool_exhausted|waiting for a connection",
    ),
    # The database cannot be reached (Prisma P1001, refused or reset connections).
    Rule(
        Category.DB_UNAVAILABLE,
        r"\bP1001\b|can'?t reach database|connection refused|econnrefused|db_unavailable"
        r"|_db_still_unavailable|_db_recovered|database system is (starting|shutting)"
        r"|too many (database )?connections|connection terminated unexpectedly",
    ),
    # Missing or expired refresh tokens and sessions: a signed-out user, not a fault.
    Rule(
        Category.AUTH_SIGNED_OUT,
        r"refresh_token_not_found|refresh token not found|invalid refresh token"
        r"|auth session missing|session (is )?(missing|expired|not found)|jwt expired"
        r"|\bsigned_out\b",
    ),
    # The client went away before the answer.
    Rule(
        Category.CLIENT_ABORT,
        r"aborterror|operation was aborted|client closed|request aborted|client disconnected"
        r"|\bECONNRESET\b",
    ),
    # A model answer cut at its token limit.
    Rule(
        Category.AI_TRUNCATED,
        r"max_output_tokens|max_tokens|incomplete_details|finish_reason\W+length|ai_truncated"
        r"|response (was )?incomplete",
    ),
    # A model call that timed out (the OpenAI SDK says "Request timed out.").
    Rule(
        Category.AI_TIMEOUT,
        r"(verifier|openai|draft|completion|llm|\bai\b).*(timed out|timeout)|apitimeouterror"
        r"|\bai_timeout\b|^\W*(error: )?request timed out",
    ),
    # A provider account that needs reconnecting.
    Rule(
        Category.PROVIDER_DISCONNECTED,
        r"disconnected account|account (is |was )?disconnected|provider_disconnected"
        r"|reconnect (the |your )?account|account (not connected|needs reconnection)",
    ),
    # A recipient the provider cannot reach (quarantine the lead, never retry).
    Rule(
        Category.PROVIDER_INVALID_RECIPIENT,
        r"recipient cannot be reached|invalid[ _]recipient|recipient (is )?(unreachable|not found)"
        r"|cannot be reached|undeliverable",
    ),
    Rule(
        Category.PROVIDER_RATE_LIMITED,
        r"\b429\b|rate[ _-]?limit|too many requests|provider_rate_limited",
    ),
    # Bad provider credentials.
    Rule(
        Category.PROVIDER_AUTH,
        r"(ghl|unipile|emailbison|slack|provider).*(\b401\b|\b403\b|unauthori[sz]ed|forbidden"
        r"|invalid (api )?key)|invalid api key|provider_auth",
    ),
    # Any other provider failure.
    Rule(
        Category.PROVIDER_ERROR,
        r"\bghl\b|gohighlevel|unipile|emailbison|slack webhook|failed to upsert contact"
        r"|provider_error|provider_timeout",
    ),
)


@dataclass(frozen=True)
class Advice:
    priority: Priority
    action: str


# Priority and a one-line action per category: the ReplyDesk feature or runbook section that
# covers it.
ADVICE: dict[Category, Advice] = {
    Category.RUNTIME_TIMEOUT: Advice(
        Priority.P0,
        "request path timed out: ReplyDesk ingestion does one insert and answers "
        "(docs/ingestion.md § The request path); burst backlog: runbook § Reading queue stats",
    ),
    Category.DB_POOL_WAIT: Advice(
        Priority.P0,
        "connections exhausted: webhooks use their own small pool "
        "(REPLYDESK_INGEST_POOL_SIZE, docs/ingestion.md § When the database is away); "
        "runbook § Error categories (db_unavailable)",
    ),
    Category.DB_UNAVAILABLE: Advice(
        Priority.P0,
        "check PostgreSQL (up, max_connections, disk); webhooks get 503 + Retry-After, nothing "
        "accepted is lost: runbook § Error categories (db_unavailable)",
    ),
    Category.DB_TIMEOUT: Advice(
        Priority.P1,
        "counts are served stale past REPLYDESK_COUNTS_STATEMENT_TIMEOUT_MS (docs/inbox.md § "
        "Inbox counts); persistent: runbook § Error categories (db_timeout)",
    ),
    Category.PROVIDER_AUTH: Advice(
        Priority.P1,
        "the workspace owner fixes the credentials (PUT integrations/{provider}, then POST "
        "…/check): docs/integrations.md § Health-check job",
    ),
    Category.PROVIDER_DISCONNECTED: Advice(
        Priority.P1,
        "reconnect the account; health checks gate the provider until then: "
        "docs/integrations.md § Statuses",
    ),
    Category.PROVIDER_ERROR: Advice(
        Priority.P1,
        "provider calls retry within a budget and stop on permanent errors: docs/integrations.md "
        "§ Timeouts and the retry matrix; dead items: runbook § Replaying dead items",
    ),
    Category.PROVIDER_RATE_LIMITED: Advice(
        Priority.P2,
        "the provider client honours Retry-After and backs off: docs/integrations.md § Timeouts "
        "and the retry matrix",
    ),
    Category.PROVIDER_INVALID_RECIPIENT: Advice(
        Priority.P2,
        "a permanent failure: not retried (docs/integrations.md § Typed failures); fix the "
        "lead's address or channel",
    ),
    Category.AI_TIMEOUT: Advice(
        Priority.P2,
        "AI work runs in workers under REPLYDESK_WORKER_ITEM_BUDGET_S, never on a request path: "
        "runbook § Error categories (timeout)",
    ),
    Category.AI_TRUNCATED: Advice(
        Priority.P2,
        "the answer hit its token limit and was discarded: raise the limit or shorten the "
        "prompt; runbook § Error categories (handler_error)",
    ),
    Category.AUTH_SIGNED_OUT: Advice(
        Priority.P2,
        "expected signed-out state: ReplyDesk answers 401 signed_out at info "
        "(docs/inbox.md § Signed out is a normal state); no action",
    ),
    Category.CLIENT_ABORT: Advice(
        Priority.P2,
        "the client went away; no action unless it follows a latency spike (see the paths' p95)",
    ),
    Category.EXPECTED_SKIP: Advice(
        Priority.P2,
        "an expected no-op: it should log at info (runbook § Error categories, last "
        "paragraph); no action",
    ),
    Category.OTHER: Advice(
        Priority.P2,
        "uncategorised: read the signatures below; add a rule to src/replydesk/triage/rules.py "
        "if it recurs",
    ),
}
