"""When a reader's digests are due: pure, DST-correct slot arithmetic (no I/O, no clock).

A *slot* is the instant a digest is due, always returned as an aware UTC datetime. Slots are
defined in the reader's own timezone, at `hour`:00 local time on every local date the cadence
names, so that "7 o'clock" stays 7 o'clock across daylight-saving changes:

- a local hour that does not exist (clocks spring forward over it) is sent at the first valid
  instant after it, the moment the clocks jump (02:30 in a 02:00-03:00 gap is sent at 03:00);
  if that instant falls on the next local date and the cadence sends on that date too (a
  whole day skipped, as Samoa did on 2011-12-30), the skipped date has no slot, so a reader
  never gets two scheduled digests on one local date;
- a local hour that occurs twice (clocks fall back) is sent once, at its first occurrence
  (fold=0);
- while paused, there is no slot before the local midnight that ends `paused_until`: every
  local date up to and including `paused_until` is skipped, past or future.

Dates are walked one at a time (any cadence names a date at least once in 31 days, so at
most a month's worth per slot), which is cheap and keeps every rule above in one place
instead of in per-cadence arithmetic.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from functools import cache, lru_cache
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from clippost.errors import BadInput

# How many missed slots `due_slots` returns by default. A planner that was down for a week
# should send the latest digest or so, not seven at once.
MAX_CATCH_UP = 3

_MAX_TIMEZONE_LENGTH = 64
# The last day a pause may end on: slots are searched up to a month past it, which must
# stay inside the calendar (date.max is 9999-12-31). Readers are held to a year from
# today (subscriptions.preferences.MAX_PAUSE); this only keeps the arithmetic total.
_LAST_PAUSE_DAY = date(9998, 12, 31)


class Cadence(StrEnum):
    DAILY = "daily"
    WEEKDAYS = "weekdays"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


@dataclass(frozen=True, slots=True)
class Schedule:
    """A reader's delivery preferences, validated on construction (raises BadInput)."""

    cadence: Cadence
    hour: int
    timezone: str
    weekday: int = 0  # 0 = Monday .. 6 = Sunday; used by weekly
    day_of_month: int = 1  # 1-28 so that every month has it; used by monthly
    paused_until: date | None = None

    def __post_init__(self) -> None:
        try:
            cadence = Cadence(self.cadence)
        except ValueError:
            choices = ", ".join(c.value for c in Cadence)
            raise BadInput(f"How often must be one of: {choices}.") from None
        _check_range("The hour", self.hour, 0, 23)
        _check_range("The weekday", self.weekday, 0, 6)
        _check_range("The day of the month", self.day_of_month, 1, 28)
        # Frozen: normalise through object.__setattr__ so a plain string cadence or a
        # differently cased zone name from the database becomes the canonical value.
        object.__setattr__(self, "cadence", cadence)
        object.__setattr__(self, "timezone", validate_timezone(self.timezone))
        if self.paused_until is not None and self.paused_until > _LAST_PAUSE_DAY:
            object.__setattr__(self, "paused_until", _LAST_PAUSE_DAY)

    @property
    def zone(self) -> ZoneInfo:
        return _zone(self.timezone)

    def describe(self) -> str:
        """In words, for pages and emails: "every Monday at 07:00 (Europe/Paris)"."""
        when = {
            Cadence.DAILY: "every day",
            Cadence.WEEKDAYS: "every weekday",
            Cadence.WEEKLY: f"every {_DAY_NAMES[self.weekday]}",
            Cadence.MONTHLY: f"on the {_ordinal(self.day_of_month)} of every month",
        }[self.cadence]
        text = f"{when} at {self.hour:02d}:00 ({self.timezone})"
        if self.paused_until is not None:
            until = self.paused_until
            text += f", paused until {until.day} {_MONTH_NAMES[until.month - 1]} {until.year}"
        return text

    def sends_on(self, day: date) -> bool:
        """Whether the cadence sends on this local date (ignoring the pause)."""
        if self.cadence is Cadence.DAILY:
            return True
        if self.cadence is Cadence.WEEKDAYS:
            return day.weekday() < 5
        if self.cadence is Cadence.WEEKLY:
            return day.weekday() == self.weekday
        return day.day == self.day_of_month


# A reader's stored schedule columns, in this order: cadence, hour, timezone, weekday,
# day of month, paused until. A plain tuple, so that it is hashable and cached on.
StoredSchedule = tuple[str, int, str, int, int, date | None]


def stored_columns(row: Any) -> StoredSchedule:
    """The schedule columns of a reader's row (a `subscribers` row, a `Subscriber`, the
    planner's `DueReader`, the sender's `ReaderNow`, or anything with the same
    attributes)."""
    return (row.cadence, row.hour, row.timezone, row.weekday, row.day_of_month, row.paused_until)


@lru_cache(maxsize=4096)
def stored_schedule(columns: StoredSchedule) -> Schedule:
    """The `Schedule` stored columns describe (BadInput when they no longer validate: a
    zone gone from the tz database, a value written by hand). Cached: the readers a
    planner or a sender handles at once share a handful of schedules."""
    cadence, hour, timezone, weekday, day_of_month, paused_until = columns
    return Schedule(
        cadence=cast(Cadence, cadence),  # validated, and made a Cadence, by Schedule itself
        hour=hour,
        timezone=timezone,
        weekday=weekday,
        day_of_month=day_of_month,
        paused_until=paused_until,
    )


_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def _ordinal(number: int) -> str:
    suffix = (
        "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    )
    return f"{number}{suffix}"


def _check_range(what: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadInput(f"{what} must be a whole number from {low} to {high}.")


def validate_timezone(name: str) -> str:
    """The canonical IANA name for `name` (matched case-insensitively); BadInput otherwise."""
    cleaned = name.strip() if isinstance(name, str) else ""
    canonical = _canonical_zone_names().get(cleaned.casefold())
    if canonical is None or len(cleaned) > _MAX_TIMEZONE_LENGTH:
        shown = cleaned[:_MAX_TIMEZONE_LENGTH] or "(empty)"
        raise BadInput(
            f"Unknown timezone {shown!r}. Use a name from the IANA list, such as "
            "Europe/Paris, America/New_York or UTC."
        )
    return canonical


@cache
def _canonical_zone_names() -> dict[str, str]:
    # Walking tzdata once per process; the set never changes while we run.
    return {zone.casefold(): zone for zone in available_timezones()}


@cache
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise BadInput(f"Unknown timezone {name!r}.") from exc


def next_slot(schedule: Schedule, after: datetime) -> datetime:
    """The first slot strictly after `after` (aware), as an aware UTC datetime."""
    after = _as_utc(after)
    start = _local_date(after, schedule.zone) - timedelta(days=1)
    for slot in _slots_from(schedule, start):
        if slot > after:
            return slot
    raise AssertionError("unreachable: _slots_from is endless")  # pragma: no cover


def due_slots(
    schedule: Schedule, since: datetime, until: datetime, *, limit: int = MAX_CATCH_UP
) -> list[datetime]:
    """Slots in (since, until], ascending: the latest `limit` of them, older ones dropped.

    Walks backwards from `until`, so the work is bounded by `limit` whatever `since` is.
    """
    since, until = _as_utc(since), _as_utc(until)
    if limit <= 0 or until <= since:
        return []
    zone = schedule.zone
    first_day = _local_date(since, zone) - timedelta(days=1)
    found: list[datetime] = []
    for slot in _slots_back_from(schedule, _local_date(until, zone) + timedelta(days=1)):
        if slot <= since or _local_date(slot, zone) < first_day:
            break
        if slot <= until:
            found.append(slot)
            if len(found) == limit:
                break
    found.reverse()
    return found


@lru_cache(maxsize=4096)
def slot_key(slot: datetime) -> str:
    """A canonical string for a slot, e.g. "2026-11-23T08:00Z" (seconds only when nonzero).
    Cached: a planner's batch names a handful of slots, each for hundreds of readers."""
    utc = _as_utc(slot)
    text = utc.strftime("%Y-%m-%dT%H:%M")
    if utc.second or utc.microsecond:
        text += utc.strftime(":%S")
        if utc.microsecond:
            text += f".{utc.microsecond:06d}"
    return text + "Z"


def to_local(slot: datetime, timezone: str) -> datetime:
    """A slot as the reader sees it on their clock (for "arrives Monday at 07:00")."""
    return _as_utc(slot).astimezone(_zone(validate_timezone(timezone)))


def _slots_from(schedule: Schedule, day: date) -> Iterator[datetime]:
    """Slots of `day` and every later local date, ascending."""
    if schedule.paused_until is not None and day <= schedule.paused_until:
        day = schedule.paused_until + timedelta(days=1)
    while True:
        slot = _slot_on(schedule, day)
        if slot is not None:
            yield slot
        day += timedelta(days=1)


def _slots_back_from(schedule: Schedule, day: date) -> Iterator[datetime]:
    """Slots of `day` and earlier local dates, descending; stops at the pause."""
    while True:
        if schedule.paused_until is not None and day <= schedule.paused_until:
            return  # every earlier date is paused too
        slot = _slot_on(schedule, day)
        if slot is not None:
            yield slot
        day -= timedelta(days=1)


def _slot_on(schedule: Schedule, day: date) -> datetime | None:
    """The slot of local date `day`, if the cadence sends that day (pause checked by callers)."""
    if not schedule.sends_on(day):
        return None
    slot = _resolve(day, schedule.hour, schedule.zone)
    landed = _local_date(slot, schedule.zone)
    if landed != day and schedule.sends_on(landed):
        return None  # the hour was skipped into a date that has a slot of its own
    return slot


def _resolve(day: date, hour: int, zone: ZoneInfo) -> datetime:
    """The UTC instant of `hour`:00 local on `day`, by the DST rules in the module docstring."""
    wall = datetime(day.year, day.month, day.day, hour, tzinfo=zone)  # fold=0: first occurrence
    instant = wall.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == wall.replace(tzinfo=None):
        return instant
    return _gap_end(wall, zone)


def _gap_end(wall: datetime, zone: ZoneInfo) -> datetime:
    """The transition instant that skipped over the nonexistent local time `wall`.

    zoneinfo maps a nonexistent time with the offset before the jump (fold=0, an instant
    after the transition) or after it (fold=1, an instant before). The transition lies
    between; tzinfo exposes no transition table, so bisect to the second.
    """
    late = wall.astimezone(UTC)
    early = wall.replace(fold=1).astimezone(UTC)
    if early > late:
        early, late = late, early
    offset_after = late.astimezone(zone).utcoffset()
    # Offsets are whole seconds and `wall` is on the hour, so both ends stay whole seconds.
    while (late - early).total_seconds() > 1:
        middle = early + timedelta(seconds=(late - early).total_seconds() // 2)
        if middle.astimezone(zone).utcoffset() == offset_after:
            late = middle
        else:
            early = middle
    return late


def _local_date(instant: datetime, zone: ZoneInfo) -> date:
    return instant.astimezone(zone).date()


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("slots are computed from aware datetimes; got a naive one")
    return moment.astimezone(UTC)
