from __future__ import annotations

from replydesk.core.outage import OutageLog
from replydesk.ingest.slowlog import SlowLog
from tests.support.logs import LogCapture


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


def test_slow_webhooks_are_one_line_per_interval(log_capture: LogCapture) -> None:
    now = [0.0]
    slow = SlowLog(threshold_s=0.5, interval_s=10, clock=lambda: now[0])
    slow.observe("ghl", 0.1)  # fast: nothing
    for i in range(100):
        slow.observe("ghl", 0.6 + i / 1000)
        now[0] += 0.05  # 100 slow requests in 5 s
    now[0] = 11.0
    slow.observe("ghl", 0.7)
    lines = [r for r in log_capture.records() if r["event"] == "webhook_ingest_slow"]
    assert [(r["level"], r["slow_requests"]) for r in lines] == [("warning", 1), ("warning", 100)]
    assert lines[1]["worst_ms"] == 700  # 99 counted quietly + the one that logs
