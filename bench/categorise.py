"""The offline categoriser on the labelled sets: precision/recall per category, accuracy,
out-of-office return dates, messages per second.

    python bench/categorise.py [--set dev|holdout|all] [--repeat N] [--record]
        [--results-dir DIR]

Sets: ``tests/automation/categorise_cases.jsonl`` (development: the rules were written and
tuned against it) and ``tests/automation/categorise_holdout.jsonl`` (written after the rules
were frozen; never tuned on). Each message goes through what the job does: the reply parser
(quoted history, signature, HTML) then the rules. Throughput is measured over ``--repeat``
passes after one warm-up pass (dateparser loads its language data on first use). Prints a
table and one JSON object; writes ``results/categorise-<UTC>.json`` (untracked); ``--record``
also appends a section to docs/benchmarks.md. No database.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from common import DOC, ROOT, add_output_args, utc_stamp, write_result
from replydesk.automation.categorise.evaluate import load, run_case, score

SETS = {
    "dev": ROOT / "tests" / "automation" / "categorise_cases.jsonl",
    "holdout": ROOT / "tests" / "automation" / "categorise_holdout.jsonl",
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--set", choices=[*SETS, "all"], default="all")
    p.add_argument("--repeat", type=int, default=3, help="timed passes over each set")
    add_output_args(p)
    return p.parse_args(argv)


def measure(path: Path, repeat: int) -> dict[str, Any]:
    cases = load(path)
    report = score(cases)  # also the warm-up pass
    started = time.perf_counter()
    for _ in range(max(1, repeat)):
        for case in cases:
            run_case(case)
    elapsed = time.perf_counter() - started
    out = report.to_json()
    out["messages_per_s"] = round(len(cases) * max(1, repeat) / elapsed, 1)
    out["file"] = str(path.relative_to(ROOT))
    return out


def table(name: str, result: dict[str, Any]) -> list[str]:
    lines = [
        f"**{name}** (`{result['file']}`): {result['total']} messages, accuracy "
        f"**{result['accuracy']:.3f}** ({result['correct']}/{result['total']}), return dates "
        f"{result['ooo_dates_correct']}/{result['ooo_dates_expected']}, "
        f"{result['messages_per_s']} messages/s.",
        "",
        "| category | n | predicted | precision | recall |",
        "|---|---|---|---|---|",
    ]
    for category, row in result["per_category"].items():
        lines.append(
            f"| {category} | {row['n']} | {row['predicted']} | {row['precision']:.3f} | "
            f"{row['recall']:.3f} |"
        )
    return lines


def record(report: dict[str, Any]) -> None:
    lines = [
        "",
        f"## Offline categoriser — {report['when']}",
        "",
        f"`bench/categorise.py {report['argv']}` on {report['machine']}: the reply parser then "
        "the rules (no AI), as the `inbound.postprocess` job runs them.",
        "",
    ]
    for name, result in report["sets"].items():
        lines += [*table(name, result), ""]
    with DOC.open("a") as out:
        out.write("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    names = list(SETS) if args.set == "all" else [args.set]
    report = {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "argv": " ".join(sys.argv[1:] if argv is None else argv),
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
        "sets": {name: measure(SETS[name], args.repeat) for name in names},
    }
    for name, result in report["sets"].items():
        print("\n".join(table(name, result)), file=sys.stderr)
        print(file=sys.stderr)
    print(json.dumps(report, indent=2))
    path = write_result(args.results_dir, "categorise", report, utc_stamp())
    print(f"categorise: results in {path}", file=sys.stderr)
    if args.record:
        record(report)
        print(f"categorise: section appended to {DOC}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
