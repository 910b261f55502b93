"""Scoring the categoriser on a labelled set (``tests/automation/categorise_cases.jsonl``):
per-category precision and recall, overall accuracy, and out-of-office return-date accuracy.
Used by the evaluation test and ``bench/categorise.py``; pure, no I/O beyond reading rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from replydesk.automation.categorise.engine import Categorised, categorise, prepare
from replydesk.leads.vocabulary import LeadCategory


@dataclass(frozen=True)
class Case:
    id: int
    expected: LeadCategory
    message_date: datetime
    text: str | None = None
    html: str | None = None
    subject: str | None = None
    channel: str = "email"
    language: str = "en"
    ooo_until: date | None = None

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> Case:
        until = row.get("ooo_until")
        return cls(
            id=int(row["id"]),
            expected=LeadCategory(row["expected"]),
            message_date=datetime.fromisoformat(row["message_date"]),
            text=row.get("text"),
            html=row.get("html"),
            subject=row.get("subject"),
            channel=row.get("channel", "email"),
            language=row.get("language", "en"),
            ooo_until=date.fromisoformat(until) if until else None,
        )


def load(path: Path) -> list[Case]:
    with path.open(encoding="utf-8") as fh:
        return [Case.from_json(json.loads(line)) for line in fh if line.strip()]


def run_case(case: Case) -> Categorised:
    """As the job does: e-mail bodies reduced to their new text first."""
    text = prepare(text=case.text, html=case.html) if case.channel == "email" else case.text or ""
    return categorise(text, subject=case.subject, message_at=case.message_date)


@dataclass
class Report:
    total: int = 0
    correct: int = 0
    per_category: dict[str, dict[str, float]] = field(default_factory=dict)
    ooo_dates_expected: int = 0
    ooo_dates_correct: int = 0
    misses: list[dict[str, Any]] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "correct": self.correct,
            "accuracy": round(self.accuracy, 4),
            "per_category": self.per_category,
            "ooo_dates_expected": self.ooo_dates_expected,
            "ooo_dates_correct": self.ooo_dates_correct,
            "misses": self.misses,
        }


def score(cases: Iterable[Case]) -> Report:
    report = Report()
    tp: dict[str, int] = dict.fromkeys(LeadCategory, 0)
    predicted: dict[str, int] = dict.fromkeys(LeadCategory, 0)
    actual: dict[str, int] = dict.fromkeys(LeadCategory, 0)
    for case in cases:
        result = run_case(case)
        report.total += 1
        actual[case.expected] += 1
        predicted[result.category] += 1
        if result.category == case.expected:
            report.correct += 1
            tp[case.expected] += 1
        else:
            report.misses.append(
                {"id": case.id, "expected": case.expected.value, "got": result.category.value}
            )
        if case.ooo_until is not None:
            report.ooo_dates_expected += 1
            if result.out_of_office_until == case.ooo_until:
                report.ooo_dates_correct += 1
    for category in LeadCategory:
        p = tp[category] / predicted[category] if predicted[category] else 0.0
        r = tp[category] / actual[category] if actual[category] else 0.0
        report.per_category[category.value] = {
            "n": actual[category],
            "predicted": predicted[category],
            "precision": round(p, 3),
            "recall": round(r, 3),
        }
    return report
