"""Meeting slots from a workspace's weekly availability, and which to offer: the upcoming
slots (local time of the workspace's timezone, converted to UTC), the least-offered first
(the ``slot_offers`` ledger), shown in start order. Pure; the ledger is read before and
incremented after by the draft job (``INSERT … ON CONFLICT DO UPDATE SET offered = offered
+ 1``, one statement, no interactive transaction)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from replydesk.automation.schemas import DAYS, AvailabilityIn

HORIZON_DAYS = 14
LEAD_TIME = timedelta(hours=2)  # never offer a slot starting sooner than this
CANDIDATES = 30  # the first upcoming slots the choice is made among
OFFERED = 3


def _clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def upcoming(
    availability: AvailabilityIn, now: datetime, limit: int = CANDIDATES
) -> list[datetime]:
    """The next ``limit`` slot starts (UTC) within the horizon."""
    zone = ZoneInfo(availability.timezone)
    step = timedelta(minutes=availability.slot_minutes)
    earliest = now + LEAD_TIME
    today: date = now.astimezone(zone).date()
    found: list[datetime] = []
    for offset in range(HORIZON_DAYS + 1):
        day = today + timedelta(days=offset)
        for start, end in availability.weekly.get(DAYS[day.weekday()], []):
            at = datetime.combine(day, _clock(start), zone)
            stop = (
                datetime.combine(day + timedelta(days=1), time(0, 0), zone)
                if end == "24:00"
                else datetime.combine(day, _clock(end), zone)
            )
            while at + step <= stop:
                if at >= earliest:
                    found.append(at.astimezone(UTC))
                    if len(found) >= limit:
                        return found
                at += step
    return found


def choose(
    candidates: list[datetime], offered: Mapping[datetime, int], n: int = OFFERED
) -> list[datetime]:
    """The ``n`` least-offered candidates (earlier first on ties), in start order."""
    ranked = sorted(candidates, key=lambda s: (offered.get(s, 0), s))[:n]
    return sorted(ranked)


def label(slot: datetime, availability: AvailabilityIn) -> str:
    """``Tue 27 Jan, 10:00-10:30 (Europe/Berlin)``: what a draft says."""
    zone = ZoneInfo(availability.timezone)
    start = slot.astimezone(zone)
    end = start + timedelta(minutes=availability.slot_minutes)
    return f"{start:%a %d %b}, {start:%H:%M}-{end:%H:%M} ({availability.timezone})"
