"""Every rule of the rules table, with messages of the kind it is for (the Phase 53a export's
messages among them), through the same SQL a triage run uses."""

from __future__ import annotations

import pytest

from replydesk.triage.rules import ADVICE, RULES
from replydesk.triage.service import categorise
from replydesk.triage.vocabulary import Category, Priority

EXAMPLES: dict[Category, list[str]] = {
    Category.RUNTIME_TIMEOUT: [
        "Vercel Runtime Timeout Error: Task timed out after 60 seconds",
        "FUNCTION_INVOCATION_TIMEOUT iad1::abc12-1737655985123-7f3e9c1d2b4a",
        "Task timed out after 300.02 seconds",
    ],
    Category.DB_TIMEOUT: [
        "Failed to get inbox counts: PrismaClientKnownRequestError: Invalid `prisma.$queryRaw()`"
        " invocation: Raw query failed. Code: `57014`. Message: `ERROR: canceling statement due"
        " to statement timeout`",
        "ERROR: canceling statement due to statement timeout (SQLSTATE 57014)",
    ],
    Category.DB_POOL_WAIT: [
        "PrismaClientKnownRequestError: Timed out fetching a new connection from the connection"
        " pool. (Current connection pool timeout: 10, connection limit: 5) code P2024",
        "[SlotLedger] increment failed: Transaction API error: Unable to start a transaction in"
        " the given time. P2028",
        "QueuePool limit of size 10 overflow 5 reached, connection timed out",
    ],
    Category.DB_UNAVAILABLE: [
        "PrismaClientInitializationError: Can't reach database server at db.example:5432 P1001",
        "connect ECONNREFUSED 10.0.0.12:5432",
        "ingest_db_unavailable TimeoutError",
        "worker_db_still_unavailable ConnectionRefusedError",
        "ingest_db_recovered",
    ],
    Category.AUTH_SIGNED_OUT: [
        "AuthApiError: Invalid Refresh Token: Refresh Token Not Found refresh_token_not_found",
        "Auth session missing!",
        "JWT expired",
    ],
    Category.CLIENT_ABORT: [
        "DOMException [AbortError]: This operation was aborted",
        "Error: client closed the request before the response",
    ],
    Category.AI_TIMEOUT: [
        "Step 3 verifier failed: Error: Request timed out.",
        "Request timed out.",
        "openai.APITimeoutError: Request timed out.",
    ],
    Category.AI_TRUNCATED: [
        "Step 3 verifier hit max_output_tokens; discarding output",
        'response status incomplete, incomplete_details: {"reason": "max_output_tokens"}',
    ],
    Category.PROVIDER_AUTH: [
        "[EmailBison] GET /api/leads failed (401): Unauthorized",
        "GHL API returned 403 Forbidden for location abc",
        "Invalid API key provided",
    ],
    Category.PROVIDER_DISCONNECTED: [
        "[Unipile] Connection check failed (401): Disconnected account",
        "LinkedIn account is disconnected, reconnect the account",
    ],
    Category.PROVIDER_INVALID_RECIPIENT: [
        "[Unipile] Connection check failed (422): Recipient cannot be reached",
        "invalid_recipient: the user cannot be messaged",
    ],
    Category.PROVIDER_RATE_LIMITED: [
        "[GHL] 429 Too Many Requests, retry after 10s",
        "Unipile rate limit exceeded",
    ],
    Category.PROVIDER_ERROR: [
        "[GHL Contact] clx9k2abcd0001 Failed to upsert contact in GHL",
        "Unipile send failed: 500 Internal Server Error",
        "emailbison webhook reply lookup failed",
    ],
    Category.EXPECTED_SKIP: [
        "[SMS Sync] Lead clx9k2abcd0001 has no GHL contact ID",
        "Skipping follow-up: lead already replied",
        "webhook_duplicate",
    ],
}

NOT_CATEGORISED = [
    "GET /api/inbox 200",
    "Compiled successfully",
    "",
]


def test_every_rule_has_examples_and_every_category_advice() -> None:
    assert {rule.category for rule in RULES} == set(EXAMPLES)
    assert len({rule.category for rule in RULES}) == len(RULES)  # one rule per category
    assert set(ADVICE) == set(Category)
    for advice in ADVICE.values():
        assert advice.action and "\n" not in advice.action
    assert ADVICE[Category.RUNTIME_TIMEOUT].priority is Priority.P0
    assert ADVICE[Category.DB_UNAVAILABLE].priority is Priority.P0
    assert ADVICE[Category.EXPECTED_SKIP].priority is Priority.P2


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.category.value)
def test_rule(rule: object) -> None:
    category = rule.category  # type: ignore[attr-defined]
    found = categorise(EXAMPLES[category])
    assert [c for c, _ in found] == [category.value] * len(EXAMPLES[category])


def test_unmatched_messages_have_no_rule_category() -> None:
    assert [c for c, _ in categorise(NOT_CATEGORISED)] == [None] * len(NOT_CATEGORISED)


def test_first_matching_rule_wins() -> None:
    # A skip that names GHL is a skip; an Unipile 401 about a disconnected account is a
    # disconnect, not bad credentials; a platform timeout mentioning the DB is a timeout.
    found = categorise(
        [
            "Lead has no GHL contact ID",
            "[Unipile] Connection check failed (401): Disconnected account",
            "Task timed out after 60 seconds while waiting for statement timeout",
        ]
    )
    assert [c for c, _ in found] == ["expected_skip", "provider_disconnected", "runtime_timeout"]
