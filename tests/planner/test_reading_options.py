"""The reader's reading options reach the planner: the age bias and the on-this-day slot
(subscribers.age_bias, subscribers.on_this_day), on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, insert, select, update

from clippost.config import Settings
from clippost.db.engine import Database
from clippost.models import Book, Highlight, OutboxMessage, RotationEntry, Subscriber
from clippost.planner.service import plan_due, preview_digest
from clippost.planner.slots import slot_key
from clippost.selection import ONE, Bias, Entry, Reader, digest_seed, plan_digest, stride
from factories import service_context
from planner.test_equivalence import SLOT, library, store

# SLOT is 07:00 in Paris on 23 November 2026: "this day" is 23 November.
ANNIVERSARY = datetime(2023, 11, 23, 21, 15)


def dated(seed: int, size: int, books: int) -> tuple[Reader, list[Entry]]:
    """`library`'s rows, each highlighted on a day of 2019-2025 (a few undated)."""
    reader, entries = library(seed, size, books)
    rng = random.Random(seed)
    start = datetime(2019, 1, 1, 12)
    made = [
        None if rng.random() < 0.1 else start + timedelta(days=rng.randrange(7 * 365))
        for _ in entries
    ]
    return reader, [replace(e, highlighted_at=m) for e, m in zip(entries, made, strict=True)]


async def store_reader(db: Database, reader: Reader, entries: list[Entry], per_email: int) -> None:
    """`store`, then the reader's options, the library's span and the bias's strides."""
    await store(db, reader, entries, per_email)
    async with db.transaction() as session:
        await session.execute(
            update(Subscriber)
            .where(Subscriber.id == 1)
            .values(
                age_bias=reader.bias.value,
                on_this_day=reader.on_this_day,
                rotation_oldest=reader.oldest,
                rotation_newest=reader.newest,
            )
        )
        for e in entries:
            await session.execute(
                update(Highlight)
                .where(Highlight.id == e.highlight_id)
                .values(
                    # Long enough to be a passage when the rotation is laid out again.
                    text=f"passage {e.highlight_id} of a book that says a good deal more",
                    highlighted_at=e.highlighted_at,
                )
            )
            await session.execute(
                update(RotationEntry)
                .where(RotationEntry.highlight_id == e.highlight_id)
                .values(
                    highlighted_at=e.highlighted_at,
                    stride=stride(
                        reader,
                        weight=e.weight,
                        favourite=e.favourite,
                        highlighted_at=e.highlighted_at,
                    ),
                )
            )


async def sent(db: Database) -> tuple[list[int], dict[int, int], int]:
    """The queued digest's highlight ids, every stored turn, and the reader's clock."""
    async with db.sessions() as session:
        digest = await session.scalar(select(OutboxMessage))
        turns = dict(
            (await session.execute(select(RotationEntry.highlight_id, RotationEntry.turn))).all()
        )
        reader = await session.get(Subscriber, 1)
    assert digest is not None
    assert reader is not None
    return (
        [int(h["text"].split()[1]) for h in digest.payload["highlights"]],
        turns,
        reader.rotation_clock,
    )


async def _copy_reader(db: Database, entries: list[Entry], *, offset: int) -> list[Entry]:
    """Reader 1's row, books, highlights and rotation copied to reader 2 without a bias,
    every id moved by `offset`; reader 2's entries."""
    tables = [Subscriber.__table__, Book.__table__, Highlight.__table__, RotationEntry.__table__]
    subscribers, books, highlights, rotation = (cast(Table, t) for t in tables)
    moved = {"id", "book_id", "highlight_id"}
    async with db.transaction() as session:
        for table, owner in (
            (subscribers, "id"),
            (books, "subscriber_id"),
            (highlights, "subscriber_id"),
            (rotation, "subscriber_id"),
        ):
            rows = (await session.execute(select(table).where(table.c[owner] == 1))).mappings()
            copies = [
                {
                    name: value + offset if name in moved and table is not subscribers else value
                    for name, value in row.items()
                }
                | {owner: 2}
                for row in rows
            ]
            if table is subscribers:
                copies = [
                    row | {"email": "other@example.org", "age_bias": "none"} for row in copies
                ]
            await session.execute(insert(table), copies)
    return [
        replace(e, highlight_id=e.highlight_id + offset, book_id=e.book_id + offset)
        for e in entries
    ]


def anniversary_library(on_this_day: bool) -> tuple[Reader, list[Entry]]:
    """Twenty normal highlights of four books; number 17, late in the round, was made on
    this date three years ago."""
    clock = 5 * ONE
    entries = [
        Entry(
            highlight_id=i,
            book_id=1 + i % 4,
            turn=clock + i * (ONE // 32),
            highlighted_at=ANNIVERSARY if i == 17 else datetime(2024, 3, i, 9),
        )
        for i in range(1, 21)
    ]
    return Reader(clock=clock, rotation_size=20, on_this_day=on_this_day), entries


class TestOnThisDay:
    async def test_digest_opens_with_the_anniversary(
        self, database: Database, settings: Settings
    ) -> None:
        reader, entries = anniversary_library(on_this_day=True)
        await store_reader(database, reader, entries, per_email=3)
        await plan_due(database, service_context(settings, now=SLOT))
        ids, turns, clock = await sent(database)
        assert ids[0] == 17
        expected = plan_digest(
            reader,
            entries,
            3,
            today=SLOT.date(),
            seed=digest_seed(1, slot_key(SLOT)),
            on_this_day=entries,
        )
        assert expected.picks[0].on_this_day
        assert ids == expected.ids == [17, 2, 3]
        assert {i: turns[i] for i in expected.turns} == dict(expected.turns)
        assert clock == expected.clock

    async def test_without_the_option_it_waits_its_turn(
        self, database: Database, settings: Settings
    ) -> None:
        reader, entries = anniversary_library(on_this_day=False)
        await store_reader(database, reader, entries, per_email=3)
        await plan_due(database, service_context(settings, now=SLOT))
        ids, _, _ = await sent(database)
        assert ids == [1, 2, 3]

    async def test_preview_is_the_digest(self, database: Database, settings: Settings) -> None:
        reader, entries = anniversary_library(on_this_day=True)
        await store_reader(database, reader, entries, per_email=3)
        ctx = service_context(settings, now=SLOT - timedelta(days=1))
        preview = await preview_digest(database, 1, ctx)
        assert preview is not None
        shown = [int(h["text"].split()[1]) for h in preview["highlights"]]
        await plan_due(database, service_context(settings, now=SLOT))
        ids, _, _ = await sent(database)
        assert shown == ids == [17, 2, 3]


class TestAgeBias:
    async def test_recent_bias_planner_is_the_pure_selection(
        self, database: Database, settings: Settings
    ) -> None:
        """With bias=recent the planner's picks, new turns and clock are plan_digest's with
        that Reader (the new turns differ from an unbiased reader's: the strides do)."""
        for seed in (3, 11, 42):
            base, entries = dated(seed, 90, 5)
            days = [e.highlighted_at.date() for e in entries if e.highlighted_at is not None]
            reader = replace(base, bias=Bias.RECENT, oldest=min(days), newest=max(days))
            await store_reader(database, reader, entries, per_email=6)
            await plan_due(database, service_context(settings, now=SLOT))
            expected = plan_digest(
                reader, entries, 6, today=SLOT.date(), seed=digest_seed(1, slot_key(SLOT))
            )
            unbiased = plan_digest(
                base, entries, 6, today=SLOT.date(), seed=digest_seed(1, slot_key(SLOT))
            )
            ids, turns, clock = await sent(database)
            assert ids == expected.ids
            assert {i: turns[i] for i in expected.turns} == dict(expected.turns)
            assert clock == expected.clock
            assert dict(expected.turns) != dict(unbiased.turns)

    async def test_a_batch_of_biased_and_unbiased_readers(
        self, database: Database, settings: Settings
    ) -> None:
        """One batch holds a reader with bias=recent and the same library under another
        reader without a bias (whose window is read without its dates): each digest is
        plan_digest's for its own reader, and the two differ where the strides do."""
        base, entries = dated(5, 90, 5)
        days = [e.highlighted_at.date() for e in entries if e.highlighted_at is not None]
        span = {"oldest": min(days), "newest": max(days)}
        biased = replace(base, bias=Bias.RECENT, **span)
        await store_reader(database, biased, entries, per_email=6)
        copy = await _copy_reader(database, entries, offset=1000)
        await plan_due(database, service_context(settings, now=SLOT))
        seeds = {1: digest_seed(1, slot_key(SLOT)), 2: digest_seed(2, slot_key(SLOT))}
        expected = {
            1: plan_digest(biased, entries, 6, today=SLOT.date(), seed=seeds[1]),
            2: plan_digest(replace(base, **span), copy, 6, today=SLOT.date(), seed=seeds[2]),
        }
        async with database.sessions() as session:
            queued = select(OutboxMessage.subscriber_id, OutboxMessage.payload)
            payloads = dict((await session.execute(queued)).all())
            stored = select(RotationEntry.highlight_id, RotationEntry.turn)
            turns = dict((await session.execute(stored)).all())
        for rid, digest in expected.items():
            assert [h["id"] for h in payloads[rid]["highlights"]] == digest.ids
            assert {i: turns[i] for i in digest.turns} == dict(digest.turns)
        unbiased = plan_digest(base, entries, 6, today=SLOT.date(), seed=seeds[1])
        assert dict(expected[1].turns) != dict(unbiased.turns)

    async def test_a_stale_library_is_laid_out_with_the_bias(
        self, database: Database, settings: Settings
    ) -> None:
        """A reader marked stale (as saving another bias marks them) has the library's span
        stored and every stride set by the bias: the newest third comes twice a round."""
        base, entries = dated(7, 60, 4)
        await store_reader(database, base, entries, per_email=4)
        async with database.transaction() as session:
            await session.execute(update(Subscriber).values(age_bias="recent", rotation_stale=True))
        await plan_due(database, service_context(settings, now=SLOT))
        days = [e.highlighted_at.date() for e in entries if e.highlighted_at is not None]
        reader = replace(base, bias=Bias.RECENT, oldest=min(days), newest=max(days))
        async with database.sessions() as session:
            stored = await session.get(Subscriber, 1)
            strides = dict(
                (
                    await session.execute(select(RotationEntry.highlight_id, RotationEntry.stride))
                ).all()
            )
        assert stored is not None
        assert not stored.rotation_stale
        assert (stored.rotation_oldest, stored.rotation_newest) == (min(days), max(days))
        for e in entries:
            expected = stride(
                reader, weight=e.weight, favourite=e.favourite, highlighted_at=e.highlighted_at
            )
            assert strides[e.highlight_id] == expected
        assert len(set(strides.values())) > len(
            {
                stride(base, weight=e.weight, favourite=e.favourite, highlighted_at=None)
                for e in entries
            }
        )
