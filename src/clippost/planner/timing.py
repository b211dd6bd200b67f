"""Which slot a claimed reader's digest is for, which slots are skipped, and the next slot:
pure (the moment and the policy's limits are parameters).

- **Ahead.** A reader is claimed when its stored slot is within the planning horizon
  (`CLIPPOST_PLAN_AHEAD_MINUTES`); a slot still ahead is planned as it is, due at the slot.
  A stored slot the schedule no longer has (a pause set since) plans nothing: the reader
  waits for its schedule's next slot.
- **Lateness.** After downtime only the latest missed slot is considered, and it is sent
  only if it is less than `CLIPPOST_DIGEST_MAX_LATENESS_HOURS` late; the older missed slots
  (up to `MAX_RECORDED`, walking back from now) are skipped as missed, and a latest slot
  past the limit as late. A reader wants today's highlights, not a pile of old digests.
- **First plan.** A reader never planned (no stored slot) starts from the next slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from clippost.models.skipped_digest import SkipReason
from clippost.planner.slots import Schedule, due_slots, next_slot

# How many missed slots one plan records as skipped at most: a reader whose planner was
# down for a year gets a month of records, not 365 (the older ones are not walked at all).
MAX_RECORDED = 31
_JUST_BEFORE = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Timing:
    slot: datetime | None  # the slot to plan a digest for now, if any
    next_slot_at: datetime  # the slot to wait for afterwards
    skipped: tuple[tuple[datetime, str], ...] = ()  # (slot, SkipReason) passed over


def timing(
    schedule: Schedule,
    stored: datetime | None,
    *,
    now: datetime,
    max_lateness: timedelta,
) -> Timing:
    """What to do with a reader whose stored next slot is `stored` (claimed at `now`)."""
    if stored is None:
        return Timing(slot=None, next_slot_at=next_slot(schedule, now))
    if stored > now:
        if next_slot(schedule, stored - _JUST_BEFORE) == stored:
            return Timing(slot=stored, next_slot_at=next_slot(schedule, stored))
        return Timing(slot=None, next_slot_at=next_slot(schedule, now))
    following = next_slot(schedule, now)
    missed = due_slots(schedule, stored - _JUST_BEFORE, now, limit=MAX_RECORDED + 1)
    if not missed:
        return Timing(slot=None, next_slot_at=following)
    *older, latest = missed
    skipped = [(slot, SkipReason.MISSED) for slot in older]
    if now - latest >= max_lateness:
        skipped.append((latest, SkipReason.LATE))
        return Timing(slot=None, next_slot_at=following, skipped=tuple(skipped))
    return Timing(slot=latest, next_slot_at=following, skipped=tuple(skipped))
