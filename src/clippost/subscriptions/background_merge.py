"""Big imports merged by the worker (issue 9): a confirm or add click of more than
`merge_in_worker_over` highlights records a request (`merging.request_merge`) and answers
at once; a worker takes the request under a lease, decodes and cuts the upload in a thread,
merges it a chunk per transaction, and applies it as the click would have.

Exactly once, whatever dies or races: each chunk is claimed by the transaction that merges
it (`merge_queue.claim_chunk`, the counter the web's own chunked merge moves), and the
import is applied once (`repository.mark_applied`). A worker killed mid-import leaves its
committed chunks and a lease that expires; the next worker resumes at the next chunk. A
reader erased meanwhile takes the request with them (ON DELETE CASCADE): the next chunk
finds nothing to claim, and nothing is added.

`clippost serve` runs the worker on the web's event loop, so every step here is short on
the loop: the upload is decoded and cut in a process of its own (`merging.cut_upload`:
in a thread, its `json.loads` would hold the GIL, and the loop, for most of a second),
which hands back each chunk encoded apart; the next chunk is decoded before its
transaction begins, and the transaction runs whole on the database's writer thread
(`Database.write`), so the write lock is held for the chunk's statements only, not for
the decoding nor for round trips through a busy event loop. Between chunks the job gives
way (`Database.give_way`): writers of other processes queued meanwhile go first, where
SQLite's busy handler alone would let this loop take the lock again the instant it
commits (db/turns.py). How long each chunk held the lock, and how long the job gave way,
is logged when the import is done.

The lease is short (`merge_lease_seconds`) and renewed by a heartbeat while the job runs,
decoding and applying included; a worker killed mid-import leaves it to expire within
that, not within the sender's lease of minutes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import statistics
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from clippost.apart import in_a_process
from clippost.context import ServiceContext
from clippost.db.base import utcnow
from clippost.db.engine import Database
from clippost.errors import PayloadTooLarge, StillImporting
from clippost.gc_pause import collector_paused
from clippost.library.service import check_room_for
from clippost.links import Purpose
from clippost.subscriptions import merge_queue
from clippost.subscriptions.merging import (
    EncodedChunks,
    MergePlan,
    cut_upload,
    merge_chunk,
)
from clippost.subscriptions.signup import apply_merged

log = logging.getLogger(__name__)

Contexts = Callable[[datetime], ServiceContext]


@dataclass(slots=True)
class MergeJob:
    """One waiting import, held by `owner` under a lease of `lease`."""

    db: Database
    context: Contexts
    owner: str
    lease: timedelta
    pending_id: int
    purpose: Purpose
    plan: MergePlan | None = None
    # Seconds each chunk's transaction held the write lock, and the job gave way in all.
    holds: list[float] = field(default_factory=list)
    gave_way: float = 0.0
    _next: int = 0  # the chunk expected next, decoded before its transaction

    async def prepare(self) -> bool:
        """Decode and cut the upload, check it against the reader's limits; False when
        there is nothing to merge (applied, erased, or refused: the reader is told why)."""
        try:
            self.plan = await self._plan()
        except PayloadTooLarge as refused:
            await self._finish(failure=refused.message)
            return False
        if self.plan is None:
            await self._finish()
            return False
        return True

    async def _plan(self) -> MergePlan | None:
        async with self.db.read() as session:
            upload = await merge_queue.upload_of(session, self.pending_id)
        if upload is None:
            return None
        subscriber_id, payload = upload
        cut = await in_a_process(cut_upload, payload)
        if cut is None:
            return None
        async with self.db.read() as session:
            await check_room_for(
                session,
                self.context(utcnow()),
                subscriber_id,
                books=cut.books,
                identities=cut.identities,
            )
        return MergePlan(
            subscriber_id=subscriber_id,
            pending_id=self.pending_id,
            chunks=EncodedChunks(cut.chunks),
            preferences=cut.preferences,
            language=cut.books.language,
        )

    async def merge_next(self) -> bool:
        """Claim and merge the next chunk; False when none is left that is this job's."""
        if self.plan is None:
            return False
        now = utcnow()
        # A chunk's thousands of objects die with it (reference counting frees them): with
        # the collector paused they are never promoted, so they never set off the full
        # collections that would otherwise hold the whole process (and a shared event
        # loop) for a fifth of a second every few dozen chunks.
        with collector_paused():
            return await self._merge_chunk(now)

    async def _merge_chunk(self, now: datetime) -> bool:
        plan = self.plan
        assert plan is not None  # checked by merge_next
        if isinstance(plan.chunks, EncodedChunks):
            plan.chunks.prefetch(self._next)
        locked = 0.0

        async def merge(session: AsyncSession) -> int | None:
            nonlocal locked
            index = await merge_queue.claim_chunk(
                session,
                self.pending_id,
                owner=self.owner,
                total=len(plan.chunks),
                now=now,
                until=now + self.lease,
            )
            locked = time.perf_counter()  # BEGIN IMMEDIATE is behind: the lock is held
            if index is not None:
                await merge_chunk(session, self.context(now), plan, index)
            return index

        index = await self.db.write(merge)
        if index is None:
            return False
        self.holds.append(time.perf_counter() - locked)
        self._next = index + 1
        return True

    async def give_way(self) -> None:
        """Let writers that queued during the chunk go before the next one."""
        self.gave_way += await self.db.give_way()

    @contextlib.asynccontextmanager
    async def heartbeat(self) -> AsyncIterator[None]:
        """The lease renewed (`keep_alive`) for as long as the block runs."""
        beating = asyncio.create_task(self.keep_alive(), name=f"clippost-lease-{self.pending_id}")
        try:
            yield
        finally:
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating

    async def keep_alive(self) -> None:
        """Renew the lease every third of it until cancelled, or until it is not this
        job's any more (then the next claim finds that out and the job stops)."""
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            try:
                if not await self.db.write(self._renew):
                    return
            except Exception:
                log.exception("import %d: the lease could not be renewed", self.pending_id)

    async def _renew(self, session: AsyncSession) -> bool:
        until = utcnow() + self.lease
        return await merge_queue.renew(session, self.pending_id, owner=self.owner, until=until)

    async def apply(self) -> bool:
        """Apply the merged import and settle the request; False when there was nothing to
        apply (its reader erased, or applied by another) or a chunk is still another's to
        merge (this worker's lease was taken over: that worker applies it)."""
        if self.plan is None:
            return False
        async with self.db.transaction() as session:
            try:
                applied = await apply_merged(
                    session, self.context(utcnow()), self.plan, self.purpose
                )
            except StillImporting:
                return False
            await merge_queue.finish(session, self.pending_id)
        if applied:
            log.info(
                "import %d merged by worker %s (%d chunks; write lock held %s ms a chunk "
                "(median, most); gave way %.1f s)",
                self.pending_id,
                self.owner,
                len(self.plan.chunks),
                _median_and_most(self.holds),
                self.gave_way,
            )
        return applied

    async def release(self) -> None:
        async with self.db.transaction() as session:
            await merge_queue.release(session, self.pending_id, owner=self.owner)

    async def _finish(self, *, failure: str | None = None) -> None:
        async with self.db.transaction() as session:
            await merge_queue.finish(session, self.pending_id, failure=failure)


async def take_job(
    db: Database, context: Contexts, *, owner: str, lease: timedelta
) -> MergeJob | None:
    """The oldest waiting import nobody holds, now `owner`'s; None when none waits."""
    now = utcnow()
    async with db.read() as session:
        candidates = await merge_queue.waiting(session, now=now)
    for pending_id in candidates:
        async with db.transaction() as session:
            purpose = await merge_queue.take(
                session, pending_id, owner=owner, now=now, until=now + lease
            )
        if purpose is not None:
            return MergeJob(db, context, owner, lease, pending_id, Purpose(purpose))
    return None


async def merge_one(
    db: Database, context: Contexts, *, owner: str, lease: timedelta, stop: asyncio.Event
) -> bool:
    """Take one waiting import and merge it whole (or until `stop`, when the lease is given
    back for another worker to resume); False when none waits.

    An unexpected error is raised with the lease kept: it expires, and the import is tried
    again then, not in a tight loop.
    """
    job = await take_job(db, context, owner=owner, lease=lease)
    if job is None:
        return False
    async with job.heartbeat():
        if not await job.prepare():
            return True
        merging = True
        while merging and not stop.is_set():
            merging = await job.merge_next()
            if merging:
                await job.give_way()
        if stop.is_set():
            await job.release()
        else:
            await job.apply()
    return True


def _median_and_most(seconds: list[float]) -> str:
    if not seconds:
        return "-"
    return f"{statistics.median(seconds) * 1000:.0f}/{max(seconds) * 1000:.0f}"
