from __future__ import annotations

import structlog

from replydesk.core.redact import redact_text, safe_error_text
from tests.support.logs import LogCapture

SECRETS = {
    "webhook": "rdw_bHoiaQxg4zfbYxs3Xldu9Qrm7QOVWSWAwTV9Xn1MZyw",
    "personal": "rdp_RTQdugHYrbQrgicgO0s3wM0-7araxVMueNr234Q_Ylc",
    "openai": "sk-proj-abcdefghijklmnop1234",
    "bison": "9|q8kSmhjJRqJVT2kc1M0ezX640Pxk",
    "password": "hunter2-very-secret",
    "cookie": "rds_session=abcdef0123456789abcdef",
    "slack": "https://hooks.slack.com/services/T000/B000/XXXXXXXX",
}


def test_log_lines_never_contain_secrets(log_capture: LogCapture) -> None:
    log = structlog.stdlib.get_logger("test")
    log.info(
        "provider_call",
        workspace_id="ws-1",
        category="provider",
        headers={
            "Authorization": f"Bearer {SECRETS['bison']}",
            "Cookie": SECRETS["cookie"],
            "X-Webhook-Token": SECRETS["webhook"],
        },
        api_key=SECRETS["openai"],
        password=SECRETS["password"],
        url=f"https://x.example/webhooks/emailbison/1?token={SECRETS['webhook']}",
        slack=SECRETS["slack"],
        lead_email="dana.reyes@northwind.example",
    )
    log.error(f"failed with Authorization: Bearer {SECRETS['bison']} token {SECRETS['personal']}")
    text = log_capture.text
    for secret in SECRETS.values():
        assert secret not in text
    assert "dana.reyes@" not in text
    assert "northwind.example" in text  # the domain stays, for debugging
    first = log_capture.records()[0]
    assert first["event"] == "provider_call"
    assert first["level"] == "info"
    assert first["workspace_id"] == "ws-1"
    assert first["category"] == "provider"


def test_a_token_in_an_id_field_is_masked(log_capture: LogCapture) -> None:
    """``workspace_id`` is exempt from key-name redaction; a token pasted there is not."""
    log = structlog.stdlib.get_logger("test")
    keep = "6f1c3a52-8d4e-4b7a-9c0e-2b1d5f6a7e80"
    for value in (SECRETS["webhook"], SECRETS["personal"], SECRETS["bison"], "Zx9" * 10, keep):
        log.info("webhook_rejected", workspace_id=value, path=f"/webhooks/ghl/{value}")
    for secret in (SECRETS["webhook"], SECRETS["personal"], SECRETS["bison"], "Zx9" * 10):
        assert secret not in log_capture.text
    records = log_capture.records()
    assert [r["workspace_id"] for r in records][-1] == keep  # a UUID is an id, not a secret
    assert records[-1]["path"] == f"/webhooks/ghl/{keep}"
    assert records[0]["workspace_id"] == "[redacted]"


def test_stdlib_loggers_are_redacted_too(log_capture: LogCapture) -> None:
    import logging

    logging.getLogger("uvicorn.error").warning("token=%s", SECRETS["webhook"])
    assert SECRETS["webhook"] not in log_capture.text
    assert log_capture.records()[0]["level"] == "warning"


def test_redact_text_and_error_text() -> None:
    assert "hunter2" not in redact_text("postgresql://app:hunter2@db:5432/x")
    err = safe_error_text(RuntimeError("x" * 5000 + SECRETS["personal"]), limit=100)
    assert len(err) == 100
    assert SECRETS["personal"] not in safe_error_text(RuntimeError(SECRETS["personal"]))
