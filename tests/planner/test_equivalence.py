"""The set-based planner picks exactly what the pure selection picks for the same state and
seed: the same highlights in the same order, the same new turns, clock and round position,
on SQLite and PostgreSQL, for libraries whose window is a small part of them."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select

from clippost.config import Settings
from clippost.db.engine import Database
from clippost.models import Book, Highlight, OutboxMessage, RotationEntry, Subscriber
from clippost.planner.service import plan_due
from clippost.planner.slots import slot_key
from clippost.selection import ONE, Entry, Reader, digest_seed, plan_digest, stride
from factories import service_context

SLOT = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
FREQUENCY = {0.5: "less", 1.0: "normal", 2.0: "more"}


def library(seed: int, size: int, books: int) -> tuple[Reader, list[Entry]]:
    """A reader part-way through a round and `size` rows over `books` of mixed weights."""
    rng = random.Random(seed)
    weights = {book: rng.choice([0.5, 1.0, 1.0, 2.0]) for book in range(1, books + 1)}
    clock = rng.randrange(3) * ONE + rng.randrange(ONE)
    entries = [
        Entry(
            highlight_id=i,
            book_id=(book := rng.randrange(1, books + 1)),
            # Coarse turns: ties must be broken the same way by the query and the pure code.
            turn=clock + rng.randrange(-8, 96) * (ONE // 32),
            weight=weights[book],
            favourite=rng.random() < 0.15,
            in_rotation=rng.random() < 0.85,
        )
        for i in range(1, size + 1)
    ]
    size_in = sum(1 for e in entries if e.in_rotation)
    return Reader(clock=clock, rotation_size=size_in), entries


async def store(db: Database, reader: Reader, entries: list[Entry], per_email: int) -> None:
    async with db.transaction() as session:
        for model in (OutboxMessage, RotationEntry, Highlight, Book, Subscriber):
            await session.execute(delete(model))
        await session.execute(
            insert(Subscriber).values(
                id=1,
                email="reader@example.org",
                status="confirmed",
                cadence="daily",
                timezone="Europe/Paris",
                per_email=per_email,
                next_slot_at=SLOT,
                rotation_clock=reader.clock,
                rotation_size=reader.rotation_size,
                rotation_stale=False,
            )
        )
        books = {e.book_id: e.weight for e in entries}
        await session.execute(
            insert(Book),
            [
                {"id": b, "subscriber_id": 1, "identity": f"b{b}", "title": f"Book {b}",
                 "frequency": FREQUENCY[w]}
                for b, w in books.items()
            ],
        )  # fmt: skip
        await session.execute(
            insert(Highlight),
            [
                {
                    "id": e.highlight_id,
                    "subscriber_id": 1,
                    "book_id": e.book_id,
                    "identity": f"h{e.highlight_id}",
                    "text": f"passage {e.highlight_id}",
                    "favourite": e.favourite,
                }
                for e in entries
            ],
        )
        # Laid out as the planner lays it out: a rotation row per highlight, its copies.
        await session.execute(
            insert(RotationEntry),
            [
                {
                    "highlight_id": e.highlight_id,
                    "subscriber_id": 1,
                    "book_id": e.book_id,
                    "weight": e.weight,
                    "favourite": e.favourite,
                    "turn": e.turn,
                    "stride": stride(
                        reader, weight=e.weight, favourite=e.favourite, highlighted_at=None
                    ),
                    "in_rotation": e.in_rotation,
                }
                for e in entries
            ],
        )


class TestPlannerIsThePureSelection:
    @settings(
        max_examples=20,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        seed=st.integers(0, 10_000),
        size=st.integers(1, 160),
        books=st.integers(1, 8),
        per_email=st.integers(1, 15),
    )
    async def test_same_picks_turns_clock_and_round(
        self,
        database: Database,
        settings: Settings,
        seed: int,
        size: int,
        books: int,
        per_email: int,
    ) -> None:
        """For any stored rotation, the planner's digest is `plan_digest` over the whole
        library with the digest's seed."""
        reader, entries = library(seed, size, books)
        await store(database, reader, entries, per_email)
        await plan_due(database, service_context(settings, now=SLOT))
        expected = plan_digest(
            reader,
            entries,
            per_email,
            today=SLOT.date(),
            seed=digest_seed(1, slot_key(SLOT)),
        )
        async with database.sessions() as session:
            digest = await session.scalar(select(OutboxMessage))
            stored = await session.get(Subscriber, 1)
            turns = dict(
                (
                    await session.execute(select(RotationEntry.highlight_id, RotationEntry.turn))
                ).all()
            )
        assert stored is not None
        if not expected.picks:
            assert digest is None
            return
        assert digest is not None
        shown = [int(h["text"].split()[1]) for h in digest.payload["highlights"]]
        assert shown == expected.ids
        assert {i: turns[i] for i in expected.turns} == dict(expected.turns)
        assert stored.rotation_clock == expected.clock
        assert digest.payload["round_status"] == {
            "position": expected.round.position,
            "total": expected.round.total,
        }
