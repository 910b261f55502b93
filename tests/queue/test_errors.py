"""Failure classification and the redaction of stored/logged errors."""

from __future__ import annotations

from sqlalchemy.exc import DataError, OperationalError

from replydesk.queue.errors import PermanentError, RetryableError, classify, error_text


def test_classify() -> None:
    assert classify(PermanentError("x")) == (True, "invalid_payload")
    assert classify(PermanentError("x", category="unknown_lead")) == (True, "unknown_lead")
    assert classify(RetryableError("x")) == (False, "transient")
    assert classify(TimeoutError()) == (False, "timeout")
    assert classify(DataError("stmt", {}, Exception("out of range"))) == (True, "invalid_payload")
    assert classify(OperationalError("stmt", {}, Exception("gone"))) == (False, "db_error")
    assert classify(KeyError("field")) == (False, "bug")


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
