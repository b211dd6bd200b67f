"""Dates and hours as a reader reads them: in their own timezone, spelled out."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def local_datetime(value: datetime, timezone: str) -> str:
    """'Monday 23 November 2026 at 07:00' in `timezone` (UTC when the zone is unknown)."""
    local = value.astimezone(_zone(timezone))
    return f"{WEEKDAYS[local.weekday()]} {local.day} {local:%B %Y} at {local:%H:%M}"


def local_hour(hour: int) -> str:
    return f"{hour:02d}:00"


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")
