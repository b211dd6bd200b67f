"""The send loop: claim a batch, render it, hand it to the transport, record what happened.

Like listmonk's manager, it knows two narrow things, the outbox store (claims) and a
Transport, plus a render function; nothing about SMTP, HTTP, or which database it runs on.
Unlike it, the cursor is the database row itself: a row leaves `pending` only when its result
is recorded, so a restart neither loses nor (beyond what was in flight) resends mail.

Concurrency is bounded twice: each lane holds at most one batch, and the transport bounds its
own connections. Two lanes keep the transport busy while the other lane records and claims.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from clippost.db.base import utcnow
from clippost.db.engine import Database
from clippost.mail import Message, Permanent, SendResult, Sent, Suppressed, Transient
from clippost.outbox import claims
from clippost.outbox.claims import ClaimedMessage, Delivered, Failed, Outcome, RetryLater, Withheld
from clippost.outbox.retry import next_attempt
from clippost.transports.base import Transport

log = logging.getLogger(__name__)

Render = Callable[[ClaimedMessage, datetime], Message]


class BatchObserver(Protocol):
    """Told once per batch what became of it (`metrics.SendMetrics`): a tally of
    (kind, outcome) -> messages, outcome one of sent, failed, retried, suppressed, and the
    seconds from claim to the last result. Once per batch, so it costs nothing per message."""

    def batch_done(
        self, transport: str, tally: Mapping[tuple[str, str], int], seconds: float
    ) -> None: ...


# After an unexpected error (database down...), wait this long, doubling up to the cap.
_FIRST_BACKOFF = 0.5
_MAX_BACKOFF = 30.0
# Recording a sent batch is retried for a while before the rows are left to their lease:
# giving up means they will be sent again, so it is worth waiting for the database.
_RECORD_ATTEMPTS = 6


@dataclass(frozen=True, slots=True)
class SenderConfig:
    owner: str
    batch_size: int = 200
    poll_interval: float = 0.5
    lease: timedelta = timedelta(seconds=300)
    retry_deadline: timedelta = timedelta(hours=48)
    retry_base: float | None = None  # seconds; None: the retry policy's default
    lanes: int = 2


@dataclass(slots=True)
class BatchReport:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    suppressed: int = 0
    retried_ids: list[int] = field(default_factory=list)

    def add(self, other: BatchReport) -> None:
        self.claimed += other.claimed
        self.sent += other.sent
        self.retried += other.retried
        self.failed += other.failed
        self.suppressed += other.suppressed
        self.retried_ids.extend(other.retried_ids)


class Sender:
    def __init__(
        self,
        *,
        db: Database,
        transport: Transport,
        render: Render,
        config: SenderConfig,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
        observer: BatchObserver | None = None,
    ) -> None:
        self.db = db
        self.transport = transport
        self.render = render
        self.config = config
        self.clock = clock
        self.rng = rng or random.Random()
        self.observer = observer
        self._warm = False

    async def run(self, stop: asyncio.Event) -> None:
        """Send until `stop` is set; a batch in flight is finished, then the lanes return."""
        async with asyncio.TaskGroup() as group:
            for _ in range(self.config.lanes):
                group.create_task(self._lane(stop))

    async def _lane(self, stop: asyncio.Event) -> None:
        backoff = _FIRST_BACKOFF
        while not stop.is_set():
            try:
                report = await self.run_once()
            except Exception:
                # Nothing may kill the loop: the rows stay pending (or leased until expiry).
                log.exception("send loop error; retrying in %.1fs", backoff)
                await sleep_unless_stopped(stop, backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF)
                continue
            backoff = _FIRST_BACKOFF
            if report.claimed and not self._warm:
                # After the first batch, what the process keeps for its life is made (the
                # compiled templates and stencils, the connections, the caches): frozen,
                # the collector stops walking it in every full collection.
                self._warm = True
                gc.freeze()
            if report.claimed < self.config.batch_size:
                # A short batch means the queue is drained: look again shortly. After a full
                # batch there is probably more, so claim again at once.
                await sleep_unless_stopped(stop, self.config.poll_interval)

    async def run_once(
        self, *, due_by: datetime | None = None, skip: Collection[int] = ()
    ) -> BatchReport:
        """Claim one batch due by `due_by` (default now), send it and record the results.

        Rows whose ids are in `skip` are given back untouched (send-due tries each row once).
        """
        now = self.clock()
        claimed = await claims.claim(
            self.db,
            owner=self.config.owner,
            limit=self.config.batch_size,
            now=now,
            lease=self.config.lease,
            due_by=due_by,
        )
        if skip:
            again = [row.id for row in claimed if row.id in skip]
            if again:
                await claims.release(self.db, owner=self.config.owner, ids=again)
                claimed = [row for row in claimed if row.id not in skip]
        if not claimed:
            return BatchReport()
        started = time.perf_counter()
        ids = [row.id for row in claimed]
        # A slow server must not let the lease run out under a live worker: another worker
        # would take the rows over and send them a second time (invariant 4).
        keeper = asyncio.create_task(self._keep_leased(ids))
        try:
            outcomes = await self.deliver(claimed, now=now)
        finally:
            keeper.cancel()
        await self._record(outcomes)
        if self.observer is not None:
            seconds = time.perf_counter() - started
            self.observer.batch_done(self.transport.name, _tally(claimed, outcomes), seconds)
        return _report(len(claimed), outcomes)

    async def _keep_leased(self, ids: list[int]) -> None:
        period = self.config.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(period)
            try:
                await claims.extend_lease(
                    self.db,
                    owner=self.config.owner,
                    ids=ids,
                    now=self.clock(),
                    lease=self.config.lease,
                )
            except Exception:
                log.exception("cannot extend the lease of a batch in flight")

    async def deliver(self, claimed: Sequence[ClaimedMessage], *, now: datetime) -> list[Outcome]:
        """Render and send claimed rows; one outcome per row, in order. Never raises."""
        outcomes: dict[int, Outcome] = {}
        ready: list[tuple[ClaimedMessage, Message]] = []
        for row in claimed:
            try:
                ready.append((row, self.render(row, now)))
            except Exception as exc:
                # A row that cannot be rendered never will be: failing it keeps it from
                # blocking the queue; the reason is kept for the operator.
                log.exception("cannot render outbox row %s", row.id)
                outcomes[row.id] = Failed(row.id, f"render error: {type(exc).__name__}: {exc}")
        results = await self._send([message for _, message in ready])
        sent_at = self.clock()
        for (row, _), result in zip(ready, results, strict=True):
            outcomes[row.id] = self._outcome(row, result, now=sent_at)
        return [outcomes[row.id] for row in claimed]

    async def _send(self, messages: list[Message]) -> Sequence[SendResult]:
        if not messages:
            return []
        try:
            results = await self.transport.send_many(messages)
        except Exception as exc:
            # Transports report per-message errors as results; an exception means the whole
            # batch did not go (bug, dead pool...), which is worth retrying, not failing.
            log.exception("transport %s raised", self.transport.name)
            return [Transient(f"transport error: {type(exc).__name__}: {exc}")] * len(messages)
        if len(results) != len(messages):
            reason = f"transport returned {len(results)} results for {len(messages)} messages"
            return [Transient(reason)] * len(messages)
        return results

    def _outcome(self, row: ClaimedMessage, result: SendResult, *, now: datetime) -> Outcome:
        if isinstance(result, Sent):
            return Delivered(row.id, result.provider_id)
        if isinstance(result, Transient):
            return self._retry(row, result, now=now)
        if isinstance(result, Suppressed):
            return Withheld(row.id, result.reason)
        if isinstance(result, Permanent):
            return Failed(
                row.id, result.reason, bounce=result.bounce, recipient_hash=row.recipient_hash
            )
        return Withheld(row.id, result.reason)

    def _retry(self, row: ClaimedMessage, result: Transient, *, now: datetime) -> Outcome:
        when = next_attempt(
            attempts=row.attempts,
            first_queued_at=row.created_at,
            now=now,
            result=result,
            rng=self.rng,
            deadline=self.config.retry_deadline,
            **({} if self.config.retry_base is None else {"base": self.config.retry_base}),
        )
        if when is None:
            return Failed(row.id, f"gave up after {row.attempts} attempts: {result.reason}")
        return RetryLater(row.id, when, result.reason)

    async def _record(self, outcomes: list[Outcome]) -> None:
        delay = _FIRST_BACKOFF
        for attempt in range(_RECORD_ATTEMPTS):
            try:
                await claims.record_results(
                    self.db, owner=self.config.owner, outcomes=outcomes, now=self.clock()
                )
                return
            except Exception:
                if attempt == _RECORD_ATTEMPTS - 1:
                    raise
                log.exception("cannot record results; retrying in %.1fs", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _MAX_BACKOFF)


_OUTCOME_NAMES: dict[type, str] = {
    Delivered: "sent",
    RetryLater: "retried",
    Failed: "failed",
    Withheld: "suppressed",
}


def _tally(claimed: Sequence[ClaimedMessage], outcomes: list[Outcome]) -> Counter[tuple[str, str]]:
    return Counter(
        (row.kind, _OUTCOME_NAMES[type(outcome)])
        for row, outcome in zip(claimed, outcomes, strict=True)
    )


def _report(claimed: int, outcomes: list[Outcome]) -> BatchReport:
    report = BatchReport(claimed=claimed)
    for outcome in outcomes:
        if isinstance(outcome, Delivered):
            report.sent += 1
        elif isinstance(outcome, RetryLater):
            report.retried += 1
            report.retried_ids.append(outcome.id)
        elif isinstance(outcome, Failed):
            report.failed += 1
        else:
            report.suppressed += 1
    return report


async def sleep_unless_stopped(stop: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds`, or less if `stop` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
