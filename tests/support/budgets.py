"""Ingest time budgets for tests.

The app's defaults are tight on purpose (a webhook is answered within ~2 s even when the
database hangs). On a loaded CI machine (two test processes on two cores) a first connection to
a fresh database took longer than that once, and a burst answered 503. Tests therefore run with
`LENIENT`; the tests of the outage answer itself pin `PRODUCTION`, the shipped defaults.
"""

from __future__ import annotations

from typing import Any

from replydesk.core.settings import Settings

_FIELDS = ("ingest_pool_timeout_s", "ingest_budget_s", "ingest_statement_timeout_ms")

LENIENT: dict[str, Any] = {
    "ingest_pool_timeout_s": 5.0,
    "ingest_budget_s": 8.0,
    "ingest_statement_timeout_ms": 5000,
}
PRODUCTION: dict[str, Any] = {name: Settings.model_fields[name].default for name in _FIELDS}
