"""The sweeper: what nobody will ever use again is deleted, so it is never kept forever.

Anyone can sign any address up, and an unconfirmed upload is stored in full until its link
is followed; without a sweeper, uploads and readers that were never confirmed (and every
rate-limit window ever opened) would pile up for ever (issue 9). The worker runs `sweep`
every few minutes (`worker.py`); `clippost send-due` runs it too, for cron set-ups.

- pending imports whose link expired more than `CLIPPOST_UNCONFIRMED_RETENTION_HOURS` ago
  (applied ones too: they only hold the summary a second click would show);
- readers who never confirmed, signed up longer ago than a link lives plus that retention,
  with no upload whose link still works: deleted as erasing would (their queued mail
  cancelled, every outbox row of theirs stripped of address and content);
- rate-limit windows opened more than `CLIPPOST_RATE_LIMIT_RETENTION_HOURS` ago (every
  window counts one hour, so an old one no longer limits anything).

Each part is its own short transaction, readers in batches of `BATCH`, so the sweeper holds
SQLite's write lock for milliseconds at a time, never for the whole sweep (invariant 11).
Running two at once is harmless: each statement deletes what is there to delete.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from clippost.addresses import address_hash
from clippost.config import Settings
from clippost.db.engine import Database
from clippost.outbox import repository as outbox
from clippost.subscriptions import ratelimit
from clippost.subscriptions import repository as repo

BATCH = 100
# Batches of never-confirmed readers one sweep deletes at most; the next sweep goes on.
MAX_BATCHES = 20


@dataclass(frozen=True, slots=True)
class SweepReport:
    pending_imports: int
    readers: int
    rate_limit_windows: int

    @property
    def total(self) -> int:
        return self.pending_imports + self.readers + self.rate_limit_windows


async def sweep(db: Database, settings: Settings, *, now: datetime) -> SweepReport:
    """Delete what has outlived its use (see the module docstring); what was deleted."""
    retention = timedelta(hours=settings.unconfirmed_retention_hours)
    async with db.transaction() as session:
        imports = await repo.delete_pending_imports_expired_before(session, now - retention)
    link_life = timedelta(hours=settings.confirm_link_hours)
    readers = await _sweep_never_confirmed(db, created_before=now - link_life - retention, now=now)
    kept = timedelta(hours=settings.rate_limit_retention_hours)
    async with db.transaction() as session:
        windows = await ratelimit.delete_windows_before(session, now - kept)
    return SweepReport(imports, readers, windows)


async def _sweep_never_confirmed(db: Database, *, created_before: datetime, now: datetime) -> int:
    deleted = 0
    for _ in range(MAX_BATCHES):
        async with db.transaction() as session:
            ids = await repo.never_confirmed(
                session, created_before=created_before, now=now, limit=BATCH
            )
            for subscriber_id in ids:
                subscriber = await repo.by_id(session, subscriber_id)
                if subscriber is None:  # pragma: no cover - deleted by a concurrent sweep
                    continue
                hashed = address_hash(subscriber.email)
                await outbox.scrub_mail(session, subscriber_id, hashed, now=now)
                await repo.delete_subscriber(session, subscriber_id)
        deleted += len(ids)
        if len(ids) < BATCH:
            break
    return deleted
