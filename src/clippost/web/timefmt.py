"""Dates and hours as a reader reads them: in their own timezone, spelled out, on the clock
their language uses (12-hour for US English and the few others that do, 24-hour otherwise).

Which clock comes from the browser's Accept-Language, its first language: a small table
rather than the full CLDR data (Babel brings that with the translated emails; this table
then gives way to it).
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# Languages (and language-region pairs) whose everyday clock is 12-hour; a bare language
# here covers its regions unless the region is listed in _TWENTY_FOUR_HOUR_REGIONS.
_TWELVE_HOUR = frozenset(
    {"en", "en-us", "en-ca", "en-au", "en-nz", "en-in", "en-ph", "es-us", "es-mx",
     "es-co", "hi", "ko", "ar", "bn", "ur", "zh-tw", "fil"}
)  # fmt: skip
_TWENTY_FOUR_HOUR_REGIONS = frozenset({"en-gb", "en-ie", "en-za", "en-150", "en-dk", "en-de"})


def uses_12_hour(accept_language: str | None) -> bool:
    """True when the browser's first language reads times on a 12-hour clock."""
    first = (accept_language or "").split(",", 1)[0].split(";", 1)[0].strip().lower()
    first = first.replace("_", "-")
    if not first or first == "*":
        return False
    if first in _TWENTY_FOUR_HOUR_REGIONS:
        return False
    return first in _TWELVE_HOUR or first.split("-", 1)[0] in _TWELVE_HOUR


def clock(hour: int, minute: int = 0, *, twelve: bool = False) -> str:
    """'07:00', or '7:00 AM' on a 12-hour clock (noon is 12:00 PM, midnight 12:00 AM)."""
    if not twelve:
        return f"{hour:02d}:{minute:02d}"
    return f"{(hour % 12) or 12}:{minute:02d} {'AM' if hour < 12 else 'PM'}"


def local_datetime(value: datetime, timezone: str, twelve: bool = False) -> str:
    """'Monday 23 November 2026 at 07:00' in `timezone` (UTC when the zone is unknown)."""
    local = value.astimezone(_zone(timezone))
    at = clock(local.hour, local.minute, twelve=twelve)
    return f"{WEEKDAYS[local.weekday()]} {local.day} {local:%B %Y} at {at}"


def long_date(value: date | datetime) -> str:
    """'3 March 2021': a day as the pages write it (a device's naive time stays as it is)."""
    return f"{value.day} {value:%B %Y}"


def local_hour(hour: int, twelve: bool = False) -> str:
    return clock(hour, twelve=twelve)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")
