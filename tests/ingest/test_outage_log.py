from __future__ import annotations

from replydesk.ingest.outage import OutageLog
from tests.conftest import LogCapture


def test_one_error_per_outage_then_one_recovery_line(log_capture: LogCapture) -> None:
    now = [0.0]
    outage = OutageLog(clock=lambda: now[0])
    outage.success()
    for _ in range(50):
        outage.failure("timeout", "TimeoutError")
        now[0] += 0.1
    outage.success()
    outage.success()
    outage.failure("pool_exhausted", "TimeoutError")  # a second, separate outage
    records = log_capture.records()
    levels = [(r["level"], r["event"]) for r in records]
    assert levels.count(("error", "ingest_db_unavailable")) == 2
    assert levels.count(("debug", "ingest_db_still_unavailable")) == 49
    recovered = [r for r in records if r["event"] == "ingest_db_recovered"]
    assert len(recovered) == 1
    assert recovered[0]["level"] == "info"
    assert recovered[0]["failed_requests"] == 50
    assert recovered[0]["outage_s"] == 5.0
    assert all(r["category"] == "db_unavailable" for r in records if r["level"] == "error")
