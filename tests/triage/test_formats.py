"""Log-drain NDJSON, ReplyDesk JSON lines, several formats in one run, and inputs that fit no
format."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.triage_logs import BURST_MINUTE, csv_text, drain_lines, incident_rows, write
from tests.triage.conftest import Triage


def _replydesk_line(ts: str, event: str, level: str, **fields: object) -> str:
    return json.dumps({"event": event, "level": level, "logger": "x", "timestamp": ts, **fields})


def test_vercel_drain_ndjson(triage: Triage, tmp_path: Path) -> None:
    drain = write(tmp_path / "drain.ndjson", drain_lines(incident_rows()))
    report = triage.json(str(drain))
    assert report["inputs"][0]["format"] == "vercel_drain"
    assert report["rows"] == 177
    assert report["categories"]["runtime_timeout"]["count"] == 60
    assert report["categories"]["runtime_timeout"]["peak_minute"] == BURST_MINUTE
    assert report["categories"]["db_timeout"]["count"] == 12
    hook = next(p for p in report["paths"] if p["path"] == "/api/webhooks/email")
    assert hook == {
        "method": "POST",
        "path": "/api/webhooks/email",
        "count": 60,
        "status_counts": {"504": 60},
        "p50_ms": None,  # a drain line has no duration
        "p95_ms": None,
    }


def test_replydesk_lines_keep_their_category_and_malformed_lines_are_reported(
    triage: Triage, tmp_path: Path
) -> None:
    lines = [
        _replydesk_line("2026-05-04T10:00:00.100000Z", "serving", "info"),
        _replydesk_line("2026-05-04T10:00:01Z", "queue_claim_failed", "error", category="db_error"),
        "",  # line 3: blank, skipped silently
        "{not json",  # line 4
        _replydesk_line("2026-05-04T10:00:02Z", "counts_stale", "warning", category="db_timeout"),
        json.dumps({"event": "no time", "level": "error"}),  # line 6
        _replydesk_line(
            "2026-05-04T10:00:03Z",
            "integration_health_checked",
            "warning",
            category="provider_disconnected",
            path="/webhooks/unipile/8a0c3c4e-2f11-4c52-9d7e-0a3f55e8b111",
        ),
        "[1, 2]",  # line 8
    ]
    result = triage.run(
        str(write(tmp_path / "app.log", "\n".join(lines) + "\n")), "--format", "json"
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["inputs"][0]["format"] == "replydesk"
    assert report["rows"] == 4
    assert [(m["line"], m["error"]) for m in report["malformed"]["rows"]] == [
        (4, "not JSON"),
        (6, "no timestamp"),
        (8, "not a JSON object"),
    ]
    assert "app.log:4: malformed row skipped: not JSON" in result.stderr
    categories = report["categories"]
    # db_error is not a triage category: an error-level line no rule matches is "other".
    assert {name: c["count"] for name, c in categories.items()} == {
        "provider_disconnected": 1,
        "db_timeout": 1,
        "other": 1,
    }
    # Ids in paths are folded, so requests of all workspaces share one path.
    assert categories["provider_disconnected"]["paths"][0]["path"] == "/webhooks/unipile/:id"
    assert report["window"] == ["2026-05-04T10:00:00.100Z", "2026-05-04T10:00:03Z"]


def test_mixed_formats_add_up(triage: Triage, tmp_path: Path) -> None:
    rows = incident_rows()
    csv_file = write(tmp_path / "a.csv", csv_text(rows[:100]))
    drain = write(tmp_path / "b.ndjson.gz", drain_lines(rows[100:]), compress=True)
    own = write(
        tmp_path / "c.jsonl",
        _replydesk_line(
            "2026-05-04T10:07:30Z",
            "ingest_db_unavailable",
            "error",
            category="db_unavailable",
            error="TimeoutError",
        )
        + "\n",
    )
    report = triage.json(str(csv_file), str(drain), str(own))
    assert [i["format"] for i in report["inputs"]] == ["vercel_csv", "vercel_drain", "replydesk"]
    assert report["rows"] == 178
    whole = triage.json(str(write(tmp_path / "all.csv", csv_text(rows))))
    counts = {n: c["count"] for n, c in report["categories"].items()}
    assert counts == {
        **{n: c["count"] for n, c in whole["categories"].items()},
        "db_unavailable": 1,
    }
    assert report["timeline"]["runtime_timeout"] == whole["timeline"]["runtime_timeout"]


def test_an_input_no_format_fits_is_named(triage: Triage, tmp_path: Path) -> None:
    good = write(tmp_path / "good.csv", csv_text(incident_rows()))
    odd = write(tmp_path / "notes.txt", "hello,world\n1,2\n")
    result = triage.run(str(good), str(odd))
    assert result.exit_code == 2
    assert f"error: {odd}: not a Vercel runtime-log CSV" in result.stderr
    missing = triage.run(str(tmp_path / "nope.csv"))
    assert missing.exit_code == 2
    assert "nope.csv: no such file" in missing.stderr
    other_json = write(tmp_path / "x.json", '{"hello": 1}\n')
    assert f"{other_json}: not a Vercel" in triage.run(str(other_json)).stderr
