"""Everything the operator page shows, gathered in one call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from clippost import suppressions
from clippost.db.engine import Database
from clippost.models import OutboxState
from clippost.outbox import operator
from clippost.stats.service import Stats, gather

# Rows the page lists at most in each table; `clippost outbox list` finds the rest.
SHOWN = 50


@dataclass(frozen=True, slots=True)
class Dashboard:
    stats: Stats
    failed: list[operator.OutboxRow]  # finished failed: retry puts them back
    retrying: list[operator.OutboxRow]  # pending after a failure: cancel stops them
    suppressions: list[suppressions.Listed]


async def load(db: Database, *, now: datetime) -> Dashboard:
    stats = await gather(db, now=now)
    async with db.sessions() as session:
        failed = await operator.find(
            session, operator.Filters(state=OutboxState.FAILED.value, limit=SHOWN)
        )
        retrying = await operator.find(session, operator.Filters(retrying=True, limit=SHOWN))
        listed = await suppressions.listed(session, limit=SHOWN)
    return Dashboard(stats=stats, failed=failed, retrying=retrying, suppressions=listed)
