"""The per-minute stacked timeline of the categories, as a PNG (matplotlib, Agg backend)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from replydesk.triage.service import MINUTE, Report
from replydesk.triage.vocabulary import Category

# One colour per category, the same in every chart (matplotlib's tab20 palette).
_PALETTE = (
    "#d62728",
    "#ff7f0e",
    "#8c564b",
    "#e377c2",
    "#9467bd",
    "#1f77b4",
    "#17becf",
    "#bcbd22",
    "#2ca02c",
    "#98df8a",
    "#aec7e8",
    "#ffbb78",
    "#c5b0d5",
    "#c7c7c7",
    "#7f7f7f",
)


def _colour(category: str) -> str:
    names = [c.value for c in Category]
    return _PALETTE[names.index(category) % len(_PALETTE)] if category in names else "#000000"


EPOCH = datetime(1970, 1, 1)  # matplotlib's dates are days since this
MAX_MINUTES = 24 * 60 * 7  # beyond a week, one bar per minute is unreadable: bars per hour


def draw_timeline(report: Report, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display; must come before pyplot
    import matplotlib.pyplot as plt
    from matplotlib.dates import DateFormatter

    minutes = sorted({m for counts in report.timeline.values() for m in counts})
    figure, axes = plt.subplots(figsize=(12, 5), dpi=100)
    step = 1
    try:
        if minutes:
            first = datetime.strptime(minutes[0], MINUTE)
            last = datetime.strptime(minutes[-1], MINUTE)
            span = int((last - first).total_seconds() // 60) + 1
            step = 60 if span > MAX_MINUTES else 1
            slots = [first + timedelta(minutes=i) for i in range(0, span, step)]
            bottom = [0] * len(slots)
            # Largest categories first, at the bottom of each stack.
            for name in sorted(report.timeline, key=lambda c: -sum(report.timeline[c].values())):
                counts = report.timeline[name]
                heights = [0] * len(slots)
                for minute, count in counts.items():
                    index = int((datetime.strptime(minute, MINUTE) - first).total_seconds() // 60)
                    heights[index // step] += count
                axes.bar(
                    [(slot - EPOCH).total_seconds() / 86_400 for slot in slots],
                    heights,
                    bottom=bottom,
                    width=step / (24 * 60) * 0.9,  # in days, matplotlib's date unit
                    align="edge",
                    label=name,
                    color=_colour(name),
                )
                bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
            axes.xaxis_date()
            axes.xaxis.set_major_formatter(DateFormatter("%m-%d %H:%M"))  # type: ignore[no-untyped-call]
            axes.legend(loc="upper left", fontsize="small", ncols=2)
        else:
            axes.text(0.5, 0.5, "no categorised rows", ha="center", va="center")
        start, end = report.window
        unit = "hour" if step == 60 else "minute"
        axes.set_title(f"Lines per {unit} by category, {start} → {end} (UTC)")
        axes.set_ylabel("lines")
        figure.autofmt_xdate()
        figure.tight_layout()
        figure.savefig(path, format="png")
    finally:
        plt.close(figure)
