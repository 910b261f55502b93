"""Vercel runtime-log CSV exports: known counts, burst minute, multi-line messages, column
variants, malformed rows, gzip, standard input and the time window."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.triage_logs import (
    BURST_MINUTE,
    HEADER,
    T0,
    Row,
    csv_text,
    incident_rows,
    write,
)
from tests.triage.conftest import Triage


def test_incident_counts_burst_and_paths(triage: Triage, tmp_path: Path) -> None:
    export = write(tmp_path / "logs_result.csv", csv_text(incident_rows()))
    report = triage.json(str(export))

    assert report["rows"] == 60 + 12 + 5 + 100
    assert report["window"] == ["2026-05-04T10:00:50Z", "2026-05-04T10:13:50Z"]
    categories = report["categories"]
    assert {name: c["count"] for name, c in categories.items()} == {
        "runtime_timeout": 60,
        "db_timeout": 12,
        "auth_signed_out": 5,
    }
    timeouts = categories["runtime_timeout"]
    assert timeouts["peak_minute"] == BURST_MINUTE
    assert timeouts["peak_count"] == 45
    assert timeouts["first_seen"] == "2026-05-04T10:01:00Z"
    assert timeouts["last_seen"] == "2026-05-04T10:07:44Z"
    assert timeouts["priority"] == "P0"
    assert "docs/ingestion.md" in timeouts["action"]
    assert timeouts["paths"] == [{"method": "POST", "path": "/api/webhooks/email", "count": 60}]
    assert timeouts["status_counts"] == {"504": 60}
    assert report["timeline"]["runtime_timeout"][BURST_MINUTE] == 45
    assert sum(report["timeline"]["runtime_timeout"].values()) == 60
    assert categories["db_timeout"]["priority"] == "P1"
    assert categories["auth_signed_out"]["paths"][0]["path"] == "/auth/login"
    # P0 first, then P1, then P2.
    assert list(categories) == ["runtime_timeout", "db_timeout", "auth_signed_out"]

    root = next(p for p in report["paths"] if p["path"] == "/" and p["method"] == "POST")
    assert root["count"] == 112
    assert root["status_counts"] == {"200": 112}
    assert root["p50_ms"] == 50_500.0  # durations 1..100 s; the counts errors have none
    assert root["p95_ms"] == 95_050.0
    hook = next(p for p in report["paths"] if p["path"] == "/api/webhooks/email")
    assert hook["status_counts"] == {"504": 60}

    # The twelve counts timeouts differ in their client id: one signature.
    counts = [s for s in report["signatures"] if s["category"] == "db_timeout"]
    assert len(counts) == 1 and counts[0]["count"] == 12
    assert "c0000aa11bb22cc" not in counts[0]["signature"]
    assert "\n" not in counts[0]["signature"]
    assert "57014" in counts[0]["example"]


SHORT = ["time", "path", "method", "status", "duration", "level", "message"]
CAMEL = ["Timestamp", "requestPath", "requestMethod", "statusCode", "durationMs", "Level",
         "Message"]  # fmt: skip
UPPER = ["TIMEUTC", "REQUESTPATH", "REQUESTMETHOD", "RESPONSESTATUSCODE", "DURATIONMS",
         "LEVEL", "MESSAGE"]  # fmt: skip
EPOCH = ["timestampInMs", "requestPath", "method", "responseStatusCode", "durationMs", "level",
         "message"]  # fmt: skip


@pytest.mark.parametrize(
    ("header", "epoch_ms"),
    [
        (SHORT, False),
        (SHORT, True),  # epoch milliseconds in a column named "time"
        (CAMEL, False),
        (CAMEL, True),
        (UPPER, False),
        (EPOCH, True),
    ],
    ids=["short", "short-numbers", "camel", "camel-numbers", "upper", "timestampInMs"],
)
def test_column_name_variants(
    triage: Triage, tmp_path: Path, header: list[str], epoch_ms: bool
) -> None:
    text = csv_text(incident_rows(), header=header, epoch_ms=epoch_ms)
    report = triage.json(str(write(tmp_path / "export.csv", text)))
    assert report["rows"] == 177
    assert report["categories"]["runtime_timeout"]["peak_minute"] == BURST_MINUTE
    assert report["categories"]["runtime_timeout"]["peak_count"] == 45
    root = next(p for p in report["paths"] if p["path"] == "/" and p["method"] == "POST")
    assert root["p50_ms"] == 50_500.0


def test_oldest_first_gives_the_same_report(triage: Triage, tmp_path: Path) -> None:
    newest = triage.json(str(write(tmp_path / "a.csv", csv_text(incident_rows()))))
    oldest = triage.json(
        str(write(tmp_path / "b.csv", csv_text(incident_rows(), newest_first=False)))
    )
    newest.pop("inputs"), oldest.pop("inputs")
    assert newest == oldest


def test_malformed_rows_are_reported_with_their_line_and_skipped(
    triage: Triage, tmp_path: Path
) -> None:
    rows = [Row(T0, message="ok first", level="warning")]
    good = csv_text(rows).splitlines()
    text = "\n".join(
        [
            good[0],  # line 1: header
            '2026-05-04 10:00:01,/,GET,504,10,error,"Task timed out after',  # lines 2-3: one
            'after 60 seconds"',  # multi-line row
            "yesterday,/,GET,200,1,info,",  # line 4: not a time
            "2026-05-04 10:00:02,/,GET",  # line 5: missing columns
            ",/,GET,200,1,info,",  # line 6: no time
            good[1],  # line 7
            "",
        ]
    )
    result = triage.run(str(write(tmp_path / "bad.csv", text)), "--format", "json")
    assert result.exit_code == 0, result.output
    assert "bad.csv:4: malformed row skipped" in result.stderr
    assert "bad.csv:5: malformed row skipped" in result.stderr
    assert "bad.csv:6: malformed row skipped" in result.stderr
    report = json.loads(result.stdout)
    assert report["rows"] == 2
    assert report["malformed"]["count"] == 3
    assert [(m["file"], m["line"]) for m in report["malformed"]["rows"]] == [
        (str(tmp_path / "bad.csv"), 4),
        (str(tmp_path / "bad.csv"), 5),
        (str(tmp_path / "bad.csv"), 6),
    ]
    assert report["categories"]["runtime_timeout"]["count"] == 1
    assert report["categories"]["other"]["count"] == 1  # the warning no rule knows


def test_gzip_and_stdin(triage: Triage, tmp_path: Path) -> None:
    text = csv_text(incident_rows())
    plain = triage.json(str(write(tmp_path / "plain.csv", text)))
    zipped = triage.json(str(write(tmp_path / "export.csv.gz", text, compress=True)))
    piped = triage.json("-", stdin=text)
    for report in (zipped, piped):
        assert report["rows"] == plain["rows"]
        assert report["categories"] == plain["categories"]
        assert report["timeline"] == plain["timeline"]
    assert zipped["inputs"] == [
        {"file": str(tmp_path / "export.csv.gz"), "format": "vercel_csv", "gzip": True}
    ]
    assert piped["inputs"][0]["file"] == "-"


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_line_numbers_count_the_lines_of_multi_line_messages(
    triage: Triage, tmp_path: Path, compress: bool
) -> None:
    lines = csv_text(incident_rows()).splitlines()
    assert len(lines) == 1 + 177 + 12  # header, rows, the second lines of the 12 messages
    lines.append("not a time,/,GET,200,1,info,")
    report = triage.json(str(write(tmp_path / "x.csv", "\n".join(lines) + "\n", compress)))
    assert [m["line"] for m in report["malformed"]["rows"]] == [191]
    assert report["rows"] == 177


def test_since_and_until_bound_the_window(triage: Triage, tmp_path: Path) -> None:
    export = str(write(tmp_path / "export.csv", csv_text(incident_rows())))
    report = triage.json(
        export, "--since", "2026-05-04T10:07:00Z", "--until", "2026-05-04T10:07:59+00:00"
    )
    assert report["window"] == ["2026-05-04T10:07:00Z", "2026-05-04T10:07:50Z"]
    assert report["categories"]["runtime_timeout"]["count"] == 45
    assert triage.run(export, "--since", "last tuesday").exit_code == 2


def test_header_only_export_is_an_empty_report(triage: Triage, tmp_path: Path) -> None:
    report = triage.json(str(write(tmp_path / "empty.csv", ",".join(HEADER) + "\n")))
    assert report["rows"] == 0
    assert report["window"] == [None, None]
    assert report["categories"] == {} and report["paths"] == []


def test_a_row_that_is_not_utf8_is_malformed_not_fatal(triage: Triage, tmp_path: Path) -> None:
    export = tmp_path / "latin1.csv"
    export.write_bytes(
        b"time,status,message\n"
        b"2026-05-04T10:00:00Z,504,Task timed out after 60 seconds\n"
        b"2026-05-04T10:00:01Z,200,caf\xe9 cr\xe8me\n"
        b"2026-05-04T10:00:02Z,200,fine\n"
    )
    report = triage.json(str(export))
    assert report["rows"] == 2
    assert [m["line"] for m in report["malformed"]["rows"]] == [3]
    assert report["categories"]["runtime_timeout"]["count"] == 1
