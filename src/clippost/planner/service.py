"""The planner: turn every due slot into one digest row in the outbox (invariant 2), a
batch of readers at a time.

`plan_due` claims due readers in batches (planner/repository.py says how, and why any
number of planners split the work), works out each reader's slot and skipped slots
(`timing`), lays out the rotation of the readers whose library changed (`rotation`),
chooses each digest with the pure selection (`selection.plan_digest` over the reader's
window), and writes the batch's digests, highlight turns and counters, next slots and
skipped slots with a handful of set-based statements, in one transaction per batch.
Nothing is read or written per reader.

Exactly once: a reader is in one batch at a time (its row locked, or the SQLite write
lock held), a committed batch has moved its readers' slots on, and the digest's idempotency
key `digest:{subscriber}:{slot}` is UNIQUE, so even a planner working from stale data
cannot queue a second digest for one slot; a digest the key refused counts nothing as sent.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from clippost.addresses import address_hash
from clippost.context import ServiceContext
from clippost.db.dialect import batches_in_flight, claim_batch, commit_without_flush
from clippost.db.engine import Database
from clippost.errors import BadInput
from clippost.gc_pause import collector_paused
from clippost.models import SkipReason
from clippost.outbox.repository import Queued, enqueue_many
from clippost.planner import repository as repo
from clippost.planner.payload import Content, PayloadMaker
from clippost.planner.repository import DueReader
from clippost.planner.rotation import entries, lay_out, span
from clippost.planner.slots import (
    StoredSchedule,
    next_slot,
    slot_key,
    stored_columns,
    stored_schedule,
    to_local,
)
from clippost.planner.timing import Timing, timing
from clippost.selection import (
    Bias,
    Digest,
    Entry,
    Reader,
    digest_seed,
    placement_salt,
    plan_digest,
    window_size,
)
from clippost.suppressions import reasons_for

log = logging.getLogger(__name__)

DIGEST = "digest"
# A reader whose stored schedule no longer validates (a timezone gone from the tz
# database) is tried again this much later, not in every batch.
_RETRY_INVALID = timedelta(days=1)


@dataclass
class _Batch:
    """What one batch writes, gathered before the writes."""

    next_slots: dict[int, datetime] = field(default_factory=dict)
    clocks: dict[int, int] = field(default_factory=dict)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    to_send: dict[int, tuple[DueReader, datetime]] = field(default_factory=dict)
    hashes: dict[int, str] = field(default_factory=dict)  # each address_hash, worked out once


async def plan_due(db: Database, ctx: ServiceContext) -> int:
    """Queue a digest for every confirmed reader whose slot is due by `ctx.now` plus the
    planning horizon (due at its slot). Returns how many digests this call queued.

    On PostgreSQL two batches are in flight (`db.dialect.batches_in_flight`), each in its
    own transaction: the next batch is claimed, read and chosen while the last one's
    writes and commit run, so the planner's Python and the database work side by side.
    The next claim skips the rows the last batch still holds locked, so the two batches
    are disjoint, as two planners' are; a planner killed with two batches open rolls both
    back. On SQLite one batch at a time (the write lock is one)."""
    depth = batches_in_flight(db)
    running: list[asyncio.Task[int]] = []
    planned = 0
    try:
        while True:
            chosen: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            running.append(asyncio.create_task(_batch_task(db, ctx, chosen)))
            more = await chosen  # this batch has claimed a full batch and chosen
            while len(running) >= depth or (running and not more):
                planned += await running.pop(0)
            if not more:
                return planned
            await db.give_way()  # other processes' writers go between batches (db/turns.py)
    finally:
        for task in running:  # a batch that failed: the others end, and roll back
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)


async def _batch_task(db: Database, ctx: ServiceContext, chosen: asyncio.Future[bool]) -> int:
    # Paused for the batch (clippost/gc_pause.py); resumed once the batch's objects are
    # gone with its frame, so the collection that catches up has nothing of it to walk
    # (with two batches in flight, once the last open one ends: measured, 113 MB a
    # planner after 200,000 readers, 101 MB after 20,000).
    try:
        with collector_paused():
            return await _plan_batch(db, ctx, chosen)
    except asyncio.CancelledError:
        chosen.cancel()  # a no-op once told
        raise
    except Exception as error:
        if not chosen.done():
            chosen.set_exception(error)
        raise


async def _plan_batch(db: Database, ctx: ServiceContext, chosen: asyncio.Future[bool]) -> int:
    """Claim, plan and write one batch in one transaction; the digests queued. `chosen`
    is told, once the digests are chosen and built, whether the batch was full (so there
    may be more readers due)."""
    horizon = ctx.now + timedelta(minutes=ctx.settings.plan_ahead_minutes)
    async with db.transaction() as session:
        connection = await session.connection()
        # Why a lost commit loses nothing: docs/architecture.md, "Planning and selection".
        await commit_without_flush(connection)
        limit = claim_batch(connection, row_locks=repo.BATCH, one_writer=repo.SQLITE_BATCH)
        readers = await repo.claim(connection, horizon=horizon, limit=limit)
        if not readers:
            chosen.set_result(False)
            return 0
        batch = _timings(readers, ctx)
        await _drop_suppressed(connection, batch, ctx.now)
        digests = await _choose(connection, batch)
        messages = await _messages(connection, batch, digests, ctx)
        chosen.set_result(len(readers) >= limit)
        return await _write(connection, batch, digests, messages, ctx)


def _timings(readers: Sequence[DueReader], ctx: ServiceContext) -> _Batch:
    batch = _Batch()
    lateness = timedelta(hours=ctx.settings.digest_max_lateness_hours)
    for reader in readers:
        batch.clocks[reader.id] = reader.rotation_clock
        try:
            plan = _timing(stored_columns(reader), reader.next_slot_at, ctx.now, lateness)
        except BadInput:
            log.exception("cannot plan subscriber %s: its schedule is not valid", reader.id)
            plan = Timing(slot=None, next_slot_at=ctx.now + _RETRY_INVALID)
        batch.next_slots[reader.id] = plan.next_slot_at
        batch.skipped += [_skip(reader.id, slot, reason, ctx.now) for slot, reason in plan.skipped]
        if plan.slot is not None:
            batch.to_send[reader.id] = (reader, plan.slot)
    return batch


async def _drop_suppressed(connection: AsyncConnection, batch: _Batch, now: datetime) -> None:
    """Readers whose address is suppressed get no digest: the slot is recorded as skipped."""
    batch.hashes = {rid: address_hash(reader.email) for rid, (reader, _) in batch.to_send.items()}
    hashes = {hashed: rid for rid, hashed in batch.hashes.items()}
    for found, reason in (await reasons_for(connection, sorted(hashes))).items():
        reader_id = hashes[found]
        _, slot = batch.to_send.pop(reader_id)
        batch.skipped.append(_skip(reader_id, slot, f"{SkipReason.SUPPRESSED} ({reason})", now))


async def _choose(connection: AsyncConnection, batch: _Batch) -> dict[int, Digest]:
    """Each digest of the batch, by the pure selection over the reader's window (or, for a
    reader whose library changed, over the whole library just laid out)."""
    readers = {rid: reader for rid, (reader, _) in batch.to_send.items()}
    days = {rid: _local_day(slot, reader.timezone) for rid, (reader, slot) in batch.to_send.items()}
    stale = [rid for rid, reader in readers.items() if reader.rotation_stale]
    states = {rid: _reader_state(reader) for rid, reader in readers.items()}
    libraries: dict[int, list[Entry]] = {}
    if stale:
        stored = await repo.library(connection, stale)
        spans = {rid: span(stored.get(rid, [])) for rid in stale}
        layouts = {
            rid: lay_out(
                _reader_state(readers[rid], span=spans[rid]),
                stored.get(rid, []),
                salt=placement_salt(rid),
            )
            for rid in stale
        }
        await repo.write_layout(
            connection,
            {rid: layout.changed for rid, layout in layouts.items()},
            {rid: layout.rotation_size for rid, layout in layouts.items()},
            spans,
        )
        for rid, layout in layouts.items():
            states[rid] = _reader_state(readers[rid], size=layout.rotation_size, span=spans[rid])
            libraries[rid] = entries(layout)
    fresh = [rid for rid in readers if rid not in libraries]
    specials: dict[int, list[Entry]] = {}
    if fresh:
        limit = window_size(max(readers[rid].per_email for rid in fresh))
        # A window's dates serve only the age bias: read for the readers who chose one.
        biased = [rid for rid in fresh if states[rid].bias is not Bias.NONE]
        unbiased = [rid for rid in fresh if states[rid].bias is Bias.NONE]
        for ids, dated in ((unbiased, False), (biased, True)):
            if ids:
                libraries.update(await repo.windows(connection, ids, limit=limit, dated=dated))
        wanted = [rid for rid in fresh if readers[rid].on_this_day]
        specials = await _on_this_day(connection, wanted, days)
    return {
        # A stale reader's whole library is a superset of its on-this-day candidates.
        rid: plan_digest(
            states[rid],
            libraries.get(rid, []),
            reader.per_email,
            today=days[rid],
            seed=digest_seed(rid, slot_key(slot)),
            on_this_day=specials.get(rid, libraries.get(rid, []) if rid in stale else []),
        )
        for rid, (reader, slot) in batch.to_send.items()
    }


async def _on_this_day(
    connection: AsyncConnection, reader_ids: Sequence[int], days: dict[int, date]
) -> dict[int, list[Entry]]:
    """The on-this-day candidates of readers who asked for them: one query per local date
    the batch's slots fall on (a batch's readers share a date or two)."""
    by_day: dict[date, list[int]] = {}
    for rid in reader_ids:
        by_day.setdefault(days[rid], []).append(rid)
    found: dict[int, list[Entry]] = {}
    for day, ids in sorted(by_day.items()):
        found.update(await repo.on_this_day(connection, ids, today=day))
    return found


async def _messages(
    connection: AsyncConnection, batch: _Batch, digests: dict[int, Digest], ctx: ServiceContext
) -> list[Queued]:
    """The outbox rows of the batch's digests (those with something to send)."""
    chosen = [i for digest in digests.values() for i in digest.ids]
    rows = await repo.contents(connection, chosen) if chosen else {}
    maker = PayloadMaker(ctx.links, now=ctx.now)
    return [
        _message(reader, slot, digests[rid], rows, maker, batch.hashes[rid])
        for rid, (reader, slot) in batch.to_send.items()
        if digests[rid].picks
    ]


async def _write(
    connection: AsyncConnection,
    batch: _Batch,
    digests: dict[int, Digest],
    messages: list[Queued],
    ctx: ServiceContext,
) -> int:
    """The batch's digests, then (for those queued) turns and counters, then every claimed
    reader's next slot and clock, and the skipped slots."""
    queued = await enqueue_many(connection, messages, domain=ctx.mail_domain)
    turns: dict[int, int] = {}
    sent_at: dict[int, datetime] = {}
    for message in messages:
        rid = message.subscriber_id
        if rid is None or message.idempotency_key not in queued:
            continue
        digest = digests[rid]
        turns.update(digest.turns)
        sent_at.update(dict.fromkeys(digest.turns, message.due_at))
        batch.clocks[rid] = digest.clock
    if turns:
        await repo.mark_sent(connection, turns, sent_at)
    await repo.advance(connection, batch.next_slots, batch.clocks)
    if batch.skipped:
        await repo.record_skipped(connection, batch.skipped)
    return len(queued)


def _message(
    reader: DueReader,
    slot: datetime,
    digest: Digest,
    rows: dict[int, Content],
    maker: PayloadMaker,
    recipient_hash: str,
) -> Queued:
    payload = maker.digest(
        reader, slot=slot, chosen=[rows[i] for i in digest.ids], round_status=digest.round
    )
    return Queued(
        kind=DIGEST,
        recipient=reader.email,
        idempotency_key=digest_key(reader.id, slot),
        payload=payload,
        due_at=slot,
        subscriber_id=reader.id,
        recipient_hash=recipient_hash,
    )


@functools.lru_cache(maxsize=4096)
def _timing(
    key: StoredSchedule, stored: datetime | None, now: datetime, lateness: timedelta
) -> Timing:
    """`timing`, once per schedule and stored slot in a batch: the readers due at one hour
    share a handful of schedules, and slot arithmetic walks dates in Python."""
    return timing(stored_schedule(key), stored, now=now, max_lateness=lateness)


@functools.lru_cache(maxsize=4096)
def _local_day(slot: datetime, timezone: str) -> date:
    """The slot's date on the reader's clock (what "on this day" means for the digest)."""
    return to_local(slot, timezone).date()


def digest_key(subscriber_id: int, slot: datetime) -> str:
    """The UNIQUE idempotency key of a reader's scheduled digest for `slot`."""
    return f"{DIGEST}:{subscriber_id}:{slot_key(slot)}"


_Span = tuple[date | None, date | None]


def _reader_state(
    reader: DueReader, *, size: int | None = None, span: _Span | None = None
) -> Reader:
    """The reader's row as the selection sees it (`size` and `span` as just laid out)."""
    oldest, newest = (reader.rotation_oldest, reader.rotation_newest) if span is None else span
    return Reader(
        clock=reader.rotation_clock,
        rotation_size=reader.rotation_size if size is None else size,
        bias=_bias(reader.age_bias),
        on_this_day=bool(reader.on_this_day),
        oldest=oldest,
        newest=newest,
    )


def _bias(stored: str) -> Bias:
    try:
        return Bias(stored)
    except ValueError:  # a value written by hand: no bias rather than no digest
        return Bias.NONE


def _skip(reader_id: int, slot: datetime, reason: str, now: datetime) -> dict[str, Any]:
    return {
        "subscriber_id": reader_id,
        "kind": DIGEST,
        "slot": slot,
        "reason": reason,
        "recorded_at": now,
    }


async def preview_digest(
    db: Database, subscriber_id: int, ctx: ServiceContext
) -> dict[str, Any] | None:
    """The payload the reader's next digest would have, chosen exactly as the planner
    chooses it, without queueing, laying out or counting anything.

    None when the reader does not exist or has nothing to send (all discarded).
    """
    async with db.read() as session:
        connection = await session.connection()
        reader = await repo.reader(connection, subscriber_id)
        if reader is None:
            return None
        slot = reader.next_slot_at or _next_or_now(reader, ctx.now)
        stored = (await repo.library(connection, [subscriber_id])).get(subscriber_id, [])
        # The planner's span when the library is unchanged; the one it will lay out if not.
        dates = span(stored) if reader.rotation_stale else None
        layout = lay_out(
            _reader_state(reader, span=dates), stored, salt=placement_salt(subscriber_id)
        )
        library = entries(layout)
        digest = plan_digest(
            _reader_state(reader, size=layout.rotation_size, span=dates),
            library,
            reader.per_email,
            today=to_local(slot, reader.timezone).date(),
            seed=digest_seed(subscriber_id, slot_key(slot)),
            on_this_day=library,
        )
        if not digest.picks:
            return None
        rows = await repo.contents(connection, digest.ids)
        chosen = [rows[i] for i in digest.ids]
        maker = PayloadMaker(ctx.links, now=ctx.now)
        return maker.digest(reader, slot=slot, chosen=chosen, round_status=digest.round)


def _next_or_now(reader: DueReader, now: datetime) -> datetime:
    try:
        return next_slot(stored_schedule(stored_columns(reader)), now)
    except BadInput:
        return now
