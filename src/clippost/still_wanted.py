"""Whether a planned digest is still what its reader wants: changes win until the email leaves.

A digest is planned (chosen and stored in the outbox) some time before it is sent: ahead of
its slot, or just before a sender gets to it. Whatever the reader did in between wins: an
unsubscribe, an erase, a pause, a new schedule, a new number of highlights per email. This
module is the rule, pure (the reader's current row and the digest's stored row in, a
verdict out); the sender applies it to every digest it claims (`outbox/recheck.py`), and
the manage side applies it the moment the reader changes something
(`subscriptions/manage.py`), so that the claim is the last line of defence, not the only one.

The verdict compares what the digest *is* with what the reader wants *now*, rather than a
stamp of when it was planned: the slot it is for must still be one of the reader's slots
(`planner.slots`, so DST and pauses follow the planner's own rules), the schedule its footer
states (payload v2's `schedule`) must still be theirs, and it must not carry more highlights
than they now want. A digest that fails is cancelled with the reason and its slot freed (its
idempotency key renamed), and when its slot is still one of the reader's, the planner is
asked to plan it again under the new preferences. A change the stored row cannot show (a
reader who asked for *more* highlights per email) is caught by the manage side, in the very
transaction that makes the change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from clippost.errors import BadInput
from clippost.models import SubscriberStatus
from clippost.planner.slots import (
    Cadence,
    StoredSchedule,
    next_slot,
    stored_columns,
    stored_schedule,
)

_JUST_BEFORE = timedelta(microseconds=1)


@dataclass(slots=True)  # not frozen, as ClaimedMessage: a claim makes one per digest
class ReaderNow:
    """What the check reads of the reader's row as it is at claim time."""

    status: str
    cadence: str
    hour: int
    weekday: int
    day_of_month: int
    timezone: str
    per_email: int
    paused_until: date | None


def reader_now(row: Any) -> ReaderNow:
    """A reader's row (a subscribers row or a `Subscriber`) as the check reads it."""
    return ReaderNow(
        status=row.status,
        cadence=row.cadence,
        hour=row.hour,
        weekday=row.weekday,
        day_of_month=row.day_of_month,
        timezone=row.timezone,
        per_email=row.per_email,
        paused_until=row.paused_until,
    )


@dataclass(frozen=True, slots=True)
class Verdict:
    """Why a planned digest must not go (kept as the row's `last_error`). `replan`: the
    reader still wants a digest at this slot, made afresh under their new preferences, so
    the planner is asked to plan the slot again."""

    reason: str
    replan: bool = False


ERASED = Verdict("cancelled: the reader was erased")
SCHEDULE_CHANGED = Verdict("obsolete: the reader changed their schedule")
FEWER = Verdict("obsolete: the reader now wants fewer highlights per email", replan=True)
CHANGED = Verdict("obsolete: the reader changed their preferences", replan=True)


def slot_of(idempotency_key: str, payload: Mapping[str, Any]) -> datetime | None:
    """The slot a planned digest is for: its payload's `slot` (v2), else the one its key
    names (`digest:<reader>:<slot>`, `planner.slots.slot_key`); None when neither says.
    Never `due_at`: a retry, or an operator's, moves it."""
    for text in (payload.get("slot"), idempotency_key.split(":", 2)[-1]):
        if isinstance(text, str):
            try:
                found = datetime.fromisoformat(text)
            except ValueError:
                continue
            if found.tzinfo is not None:
                return found
    return None


def verdict(
    reader: ReaderNow | None, *, slot: datetime | None, payload: Mapping[str, Any]
) -> Verdict | None:
    """None when the digest may go as it is; else why not. Without its `slot` (a row that
    does not say), only what the payload itself shows is compared."""
    if reader is None:
        return ERASED
    if reader.status != SubscriberStatus.CONFIRMED:
        return Verdict(f"cancelled: the reader is {reader.status}")
    return (_off_schedule(reader, slot) if slot is not None else None) or _stale_content(
        reader, payload
    )


def _off_schedule(reader: ReaderNow, slot: datetime) -> Verdict | None:
    try:
        on_schedule = is_slot(_schedule(reader, None), slot)
        unpaused = reader.paused_until is None or is_slot(
            _schedule(reader, reader.paused_until), slot
        )
    except BadInput:
        # A stored schedule that no longer validates (a zone gone from the tz database):
        # nothing to compare with, and the planner already chose to send this digest.
        return None
    if not on_schedule:
        return SCHEDULE_CHANGED
    if not unpaused:
        return Verdict(f"cancelled: the reader paused until {reader.paused_until}")
    return None


def _stale_content(reader: ReaderNow, payload: Mapping[str, Any]) -> Verdict | None:
    if not _footer_matches(reader, payload.get("schedule"), payload.get("timezone")):
        return Verdict(SCHEDULE_CHANGED.reason, replan=True)
    highlights = payload.get("highlights")
    if isinstance(highlights, list) and len(highlights) > reader.per_email:
        return FEWER
    return None


def after_change(
    reader: ReaderNow, *, slot: datetime | None, payload: Mapping[str, Any], changed: bool
) -> Verdict | None:
    """The verdict the moment the reader saves new preferences: as at claim time, and
    when their schedule or number per email changed, whatever is planned was planned under
    the old ones and is made again (re-planned when its slot is still one of theirs)."""
    found = verdict(reader, slot=slot, payload=payload)
    if found is not None or not changed:
        return found
    return CHANGED


@lru_cache(maxsize=4096)
def is_slot(schedule: StoredSchedule, moment: datetime) -> bool:
    """Whether `moment` is a slot of the stored schedule `(cadence, hour, timezone,
    weekday, day_of_month, paused_until)` (`planner.slots.stored_schedule`); BadInput when
    the schedule does not validate.

    Cached: a batch's readers share few schedules and fewer slots (a whole hour's readers
    are due at one instant per timezone), and walking a schedule's dates costs far more
    than the cache's lookup."""
    return next_slot(stored_schedule(schedule), moment - _JUST_BEFORE) == moment


def _schedule(reader: ReaderNow, paused_until: date | None) -> StoredSchedule:
    """The reader's schedule as `is_slot` takes it, with this pause (or none)."""
    return (*stored_columns(reader)[:5], paused_until)


def _footer_matches(reader: ReaderNow, stated: object, payload_zone: object) -> bool:
    """Whether the schedule a v2 or v3 payload states ("every Monday at 07:00") is the reader's.
    A payload without one (v1) states nothing, so nothing can disagree."""
    if not isinstance(stated, Mapping):
        return True
    zone = stated.get("timezone") or payload_zone or reader.timezone
    if stated.get("cadence") != reader.cadence or stated.get("hour") != reader.hour:
        return False
    if str(zone).casefold() != reader.timezone.casefold():
        return False
    if reader.cadence == Cadence.WEEKLY and stated.get("weekday", reader.weekday) != reader.weekday:
        return False
    return not (
        reader.cadence == Cadence.MONTHLY
        and stated.get("day_of_month", reader.day_of_month) != reader.day_of_month
    )
