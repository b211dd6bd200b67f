"""The operator's figures at a moment: readers, the queue, lateness, the last days.

`gather` is what `clippost stats` prints and the operator page shows; `gauges` is the
cheaper part /metrics reads on every scrape. Rates are over the days gathered: failures
and bounces per message tried (sent or failed), complaints per message sent (the way
mailbox providers count them; Gmail asks for under 0.3 %).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from clippost import delivery_events
from clippost.db.engine import Database
from clippost.outbox import repository as outbox
from clippost.stats import repository as repo
from clippost.subscriptions import repository as subscribers

DAYS = 7
BOUNCES = (delivery_events.HARD_BOUNCE, delivery_events.SOFT_BOUNCE)


@dataclass(frozen=True, slots=True)
class Day:
    day: date  # a UTC calendar day
    sent: int
    failed: int
    bounces: int
    complaints: int


@dataclass(frozen=True, slots=True)
class Gauges:
    """What /metrics reports from the database: the same from every process."""

    queue: dict[tuple[str, str], int]  # (state, kind) -> rows
    oldest_due_seconds: float  # how long the most overdue pending row has waited; 0: none
    planner_lag_seconds: float  # how late the most overdue reader's next slot is; 0: none
    events: dict[str, int]  # delivery events ever kept, by kind


@dataclass(frozen=True, slots=True)
class Stats:
    at: datetime
    readers: dict[str, int]
    gauges: Gauges
    due_now: int
    leased: int
    days: list[Day]
    # Digests the planner recorded as skipped over the days (late, missed, suppressed);
    # None only in a Stats built without the count.
    skipped: int | None = None
    rates: dict[str, float] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """Plain JSON values (`clippost stats --json`)."""
        found = asdict(self)
        found["at"] = self.at.isoformat()
        found["days"] = [{**asdict(d), "day": d.day.isoformat()} for d in self.days]
        queue: dict[str, dict[str, int]] = {}
        for (state, kind), count in sorted(self.gauges.queue.items()):
            queue.setdefault(state, {})[kind] = count
        found["gauges"] = {**asdict(self.gauges), "queue": queue}
        return found


async def gauges(db: Database, *, now: datetime) -> Gauges:
    async with db.sessions() as session:
        queue = await repo.queue_by_state_and_kind(session)
        oldest = await repo.oldest_due(session, now=now)
        slot = await repo.oldest_due_slot(session, now=now)
        events = await delivery_events.totals_by_kind(session)
    return Gauges(
        queue=queue,
        oldest_due_seconds=_age(oldest, now),
        planner_lag_seconds=_age(slot, now),
        events=events,
    )


async def gather(db: Database, *, now: datetime, days: int = DAYS) -> Stats:
    """Everything the operator sees, for the `days` UTC days up to and including today."""
    boundaries = day_boundaries(now, days)
    async with db.sessions() as session:
        finished = await repo.finished_per_period(session, boundaries)
        reported = await delivery_events.per_period_by_kind(session, boundaries)
    queue = await outbox.stats(db, now=now)
    per_day = _days(boundaries, finished, reported)
    return Stats(
        at=now,
        readers=await subscribers.count_by_status(db),
        gauges=await gauges(db, now=now),
        due_now=queue.due_now,
        leased=queue.leased,
        days=per_day,
        skipped=await skipped_digests(db, since=boundaries[0]),
        rates=rates(per_day),
    )


async def skipped_digests(db: Database, *, since: datetime) -> int:
    """Digests the planner recorded as skipped since `since` instead of queueing them: a
    slot past the lateness limit, an older slot of a downtime, a suppressed address
    (`skipped_digests`, each with its reason)."""
    async with db.sessions() as session:
        return await repo.skipped_since(session, since)


def day_boundaries(now: datetime, days: int) -> list[datetime]:
    """Midnights (UTC) from `days - 1` days before today to tomorrow: `days` periods."""
    today = datetime.combine(now.date(), time(), tzinfo=now.tzinfo)
    return [today - timedelta(days=days - 1 - index) for index in range(days + 1)]


def rates(days: list[Day]) -> dict[str, float]:
    sent = sum(d.sent for d in days)
    tried = sent + sum(d.failed for d in days)
    return {
        "failure": _ratio(sum(d.failed for d in days), tried),
        "bounce": _ratio(sum(d.bounces for d in days), tried),
        "complaint": _ratio(sum(d.complaints for d in days), sent),
    }


def _days(
    boundaries: list[datetime], finished: dict[str, list[int]], reported: dict[str, list[int]]
) -> list[Day]:
    zeros = [0] * (len(boundaries) - 1)
    sent, failed = finished.get("sent", zeros), finished.get("failed", zeros)
    bounces = [sum(c) for c in zip(*(reported.get(k, zeros) for k in BOUNCES), strict=True)]
    complaints = reported.get(delivery_events.COMPLAINT, zeros)
    return [
        Day(start.date(), sent[i], failed[i], bounces[i], complaints[i])
        for i, start in enumerate(boundaries[:-1])
    ]


def duration_text(seconds: float) -> str:
    """A wait or a lag for people: "none", "40 s", "12 min", "3.5 h"."""
    if seconds <= 0:
        return "none"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _age(moment: datetime | None, now: datetime) -> float:
    return max(0.0, (now - moment).total_seconds()) if moment is not None else 0.0
