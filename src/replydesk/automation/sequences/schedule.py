"""When a step is due: hours from the previous step, or business days (Monday to Friday, same
local time); out of office: the next working day after the stated return date, 09:00 local.
Local time is the workspace's availability timezone (``PUT settings/availability``), else
UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WORKDAY_START = time(9, 0)


def _zone(timezone: str | None) -> ZoneInfo:
    return ZoneInfo(timezone or "UTC")


def add_business_days(start: datetime, days: int, timezone: str | None) -> datetime:
    """``days`` working days after ``start`` at the same local time (0: ``start`` itself, or
    the next working day's same time when ``start`` is on a weekend)."""
    zone = _zone(timezone)
    local = start.astimezone(zone)
    day = local.date()
    remaining = days
    while remaining > 0 or day.weekday() >= 5:
        day += timedelta(days=1)
        if day.weekday() < 5:
            remaining -= 1
    moved = datetime.combine(day, local.timetz().replace(tzinfo=None), zone)
    return moved.astimezone(UTC)


def step_due(
    start: datetime, delay_hours: float | None, delay_business_days: int | None, tz: str | None
) -> datetime:
    if delay_business_days is not None:
        return add_business_days(start, delay_business_days, tz)
    return start + timedelta(hours=delay_hours or 0)


def back_at_work(until: date, timezone: str | None) -> datetime:
    """The start (09:00 local) of the first working day after ``until``."""
    day = until + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, WORKDAY_START, _zone(timezone)).astimezone(UTC)
