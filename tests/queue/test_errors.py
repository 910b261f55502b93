"""Failure classification and the redaction of stored/logged errors."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DataError, DBAPIError, OperationalError

from replydesk.core.db import Database
from replydesk.queue.errors import PermanentError, RetryableError, classify, error_text


def test_classify() -> None:
    assert classify(PermanentError("x")) == (True, "invalid_payload")
    assert classify(PermanentError("x", category="unknown_lead")) == (True, "unknown_lead")
    assert classify(RetryableError("x")) == (False, "transient")
    assert classify(TimeoutError()) == (False, "timeout")
    assert classify(DataError("stmt", {}, Exception("out of range"))) == (True, "invalid_payload")
    assert classify(OperationalError("stmt", {}, Exception("gone"))) == (False, "db_error")
    assert classify(KeyError("field")) == (False, "bug")


@pytest.mark.parametrize(
    ("statement", "params"),
    [
        ("SELECT CAST(:v AS bigint)", {"v": 99999999999999999999}),  # asyncpg: 22000
        (
            "SELECT CAST(:v AS timestamptz)",
            {"v": datetime.fromisoformat("0001-01-01T00:00:00+14:00")},
        ),
        ("SELECT '99999999999999999999'::bigint", {}),  # 22003
        ("SELECT '294277-01-01'::timestamptz", {}),  # 22008
        ("SELECT 'soon'::timestamptz", {}),  # 22007
        ("SELECT 'x'::int", {}),  # 22P02
    ],
)
async def test_values_the_database_refuses_are_permanent_not_db_error(
    db: Database, statement: str, params: dict[str, Any]
) -> None:
    """They retried 8 times as db_error: the same value fails the same way every time."""
    with pytest.raises(DBAPIError) as raised:
        async with db.session() as session:
            await session.execute(text(statement), params)
    assert classify(raised.value) == (True, "invalid_payload")


def test_error_text_masks_pii_and_secrets_and_truncates() -> None:
    exc = ValueError(
        'duplicate key value violates unique constraint "uq_leads_workspace_id_phone_e164" '
        "DETAIL: Key (workspace_id, phone_e164)=(5c1e, +15125550143) already exists; "
        "contact dana.reyes@northwind.example with Bearer abc.def.ghi"
    )
    text = error_text(exc)
    assert "+15125550143" not in text and "5550143" not in text
    assert "dana.reyes@" not in text and "abc.def.ghi" not in text
    assert text.startswith("ValueError: duplicate key value")
    assert len(error_text(ValueError("x" * 5000))) == 2000


def test_error_text_of_a_database_error_has_no_statement_or_parameters() -> None:
    exc = OperationalError(
        "UPDATE leads SET first_name = %(n)s", {"n": "Zebulon"}, ConnectionRefusedError("x")
    )
    assert "Zebulon" in str(exc)  # what SQLAlchemy would have stored
    assert error_text(exc) == "OperationalError (ConnectionRefusedError)"
    assert error_text(ValueError("ours")) == "ValueError: ours"
