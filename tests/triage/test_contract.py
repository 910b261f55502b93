"""The JSON output contract (docs/triage.md), redacted examples, signatures, and the table,
Markdown and chart outputs."""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import pytest

from replydesk.triage.service import categorise
from tests.support.triage_logs import BURST_MINUTE, T0, Row, csv_text, incident_rows, write
from tests.triage.conftest import Triage

DOC = Path(__file__).resolve().parents[2] / "docs" / "triage.md"
CATEGORY_KEYS = {
    "count",
    "paths",
    "status_counts",
    "first_seen",
    "last_seen",
    "peak_minute",
    "peak_count",
    "priority",
    "action",
}
PATH_KEYS = {"method", "path", "count", "status_counts", "p50_ms", "p95_ms"}
SIGNATURE_KEYS = {"signature", "category", "count", "example"}
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$")


def test_json_contract(triage: Triage, tmp_path: Path) -> None:
    report = triage.json(str(write(tmp_path / "e.csv", csv_text(incident_rows()))))
    assert set(report) == {
        "window",
        "rows",
        "categories",
        "timeline",
        "paths",
        "signatures",
        "malformed",
        "inputs",
    }
    assert len(report["window"]) == 2 and all(ISO.match(t) for t in report["window"])
    assert isinstance(report["rows"], int)
    for name, category in report["categories"].items():
        assert set(category) == CATEGORY_KEYS, name
        assert ISO.match(category["first_seen"]) and ISO.match(category["last_seen"])
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d$", category["peak_minute"])
        assert category["priority"] in ("P0", "P1", "P2")
        assert set(category["paths"][0]) == {"method", "path", "count"}
        assert sum(report["timeline"][name].values()) == category["count"]
        assert report["timeline"][name][category["peak_minute"]] == category["peak_count"]
    assert set(report["timeline"]) == set(report["categories"])
    for path in report["paths"]:
        assert set(path) == PATH_KEYS
    for signature in report["signatures"]:
        assert set(signature) == SIGNATURE_KEYS
    assert set(report["malformed"]) == {"count", "rows"}


def test_docs_describe_every_key() -> None:
    text = DOC.read_text()
    for key in CATEGORY_KEYS | PATH_KEYS | SIGNATURE_KEYS | {"window", "rows", "timeline"}:
        assert f"`{key}`" in text, key
    from replydesk.triage.vocabulary import Category

    for category in Category:
        assert f"`{category.value}`" in text, category


def test_examples_and_signatures_are_redacted(triage: Triage, tmp_path: Path) -> None:
    secret = (
        "Failed to upsert contact in GHL for ann.lee@acme.example: Authorization: Bearer "
        "Ab12Cd34Ef56Gh78Ij90KlMn token=s3cr3tV4lu3xyz"
    )
    rows = [Row(T0, message=secret, level="error", path="/api/x?token=Zz99Yy88Xx77Ww66Vv55")]
    result = triage.run(str(write(tmp_path / "s.csv", csv_text(rows))), "--format", "json")
    out = result.stdout
    for leaked in ("ann.lee", "Ab12Cd34Ef56Gh78Ij90KlMn", "s3cr3tV4lu3xyz", "Zz99Yy88Xx77Ww66Vv55"):
        assert leaked not in out
        assert leaked not in triage.run(str(tmp_path / "s.csv"), "--format", "md").stdout
    report = json.loads(out)
    example = report["signatures"][0]["example"]
    assert "a***@acme.example" in example and "Bearer [redacted]" in example
    assert report["paths"][0]["path"] == "/api/x"


def test_signatures_strip_what_varies() -> None:
    messages = [
        "Lead 8a0c3c4e-2f11-4c52-9d7e-0a3f55e8b111 of ann@acme.example failed at "
        "2026-01-23T18:13:05.123Z after 1234 ms, request 0xdeadbeef, id clx9k2abcd0001, "
        "subject 'Quarterly review'",
        "Lead 1b2c3c4e-2f11-4c52-9d7e-0a3f55e8b999 of bob@other.example failed at "
        "2026-01-24T01:02:03Z after 7 ms, request 0xfeed, id clz0000000042, "
        'subject "Hello\nthere"',
    ]
    (_, first), (_, second) = categorise(messages)
    assert first == second
    for gone in ("8a0c3c4e", "ann@", "2026", "1234", "deadbeef", "clx9k2abcd0001", "Quarterly"):
        assert gone not in first
    # Codes the rules read stay: a Prisma code is not an id.
    ((_, prisma),) = categorise(["Timed out fetching a new connection P2024 after 10 s"])
    assert "P2024" in prisma and "10" not in prisma


def test_table_and_markdown(triage: Triage, tmp_path: Path) -> None:
    export = str(write(tmp_path / "e.csv", csv_text(incident_rows())))
    table = triage.run(export)
    assert table.exit_code == 0
    assert "runtime_timeout" in table.stdout and "Categories" in table.stdout
    assert f"{BURST_MINUTE} (45)" in table.stdout
    md = triage.run(export, "--format", "md").stdout
    assert md.startswith("# Triage: 177 rows")
    assert (
        f"| P0 | `runtime_timeout` | 60 | 2026-05-04T10:01:00Z | 2026-05-04T10:07:44Z | "
        f"{BURST_MINUTE} (45) | 504: 60 |" in md
    )


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_chart_is_a_png_with_the_burst(triage: Triage, tmp_path: Path) -> None:
    import matplotlib.image

    chart = tmp_path / "timeline.png"
    export = str(write(tmp_path / "e.csv", csv_text(incident_rows())))
    result = triage.run(export, "--format", "json", "--chart", str(chart))
    assert result.exit_code == 0, result.output
    data = chart.read_bytes()
    assert _png_size(data) == (1200, 500)
    assert len(data) > 10_000
    pixels = matplotlib.image.imread(chart)
    assert pixels.std() > 0.05  # not blank
    # The burst: the tallest bar reaches far above the others. Column of each pixel that
    # is not white/grey/black (a bar), and how high bars get per column.
    rgb = pixels[:, :, :3]
    coloured = (rgb.max(axis=2) - rgb.min(axis=2)) > 0.2
    heights = coloured.sum(axis=0)
    assert heights.max() > 4 * sorted(heights[heights > 0])[len(heights[heights > 0]) // 2]


def test_chart_of_nothing_is_still_a_png(triage: Triage, tmp_path: Path) -> None:
    chart = tmp_path / "empty.png"
    export = str(write(tmp_path / "e.csv", csv_text([Row(T0)])))
    assert triage.run(export, "--chart", str(chart)).exit_code == 0
    assert _png_size(chart.read_bytes()) == (1200, 500)


def test_progress_bar_on_large_inputs(
    triage: Triage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from replydesk.cli import triage_commands
    from replydesk.triage import service

    seen: list[str] = []
    original = service.triage

    def spy(*args: object, **kwargs: object) -> object:
        progress = args[3] if len(args) > 3 else kwargs.get("progress")
        seen.append("progress" if progress else "none")
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(service, "triage", spy)
    export = str(write(tmp_path / "e.csv", csv_text(incident_rows())))
    assert triage.run(export, "--format", "json").exit_code == 0
    monkeypatch.setattr(triage_commands, "PROGRESS_FROM_BYTES", 10)
    assert triage.run(export, "--format", "json").exit_code == 0
    assert seen == ["none", "progress"]
