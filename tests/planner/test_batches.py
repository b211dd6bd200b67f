"""The set-based planner on SQLite and PostgreSQL: planning ahead, the lateness policy and
its records, suppressed readers, the rotation laid out and kept, racing and killed planners."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select, update

from clippost.addresses import address_hash
from clippost.config import Settings
from clippost.db.dialect import batches_in_flight, normalise_database_url
from clippost.db.engine import Database
from clippost.library import repository as library_repository
from clippost.links import Purpose
from clippost.models import Book, Highlight, OutboxMessage, RotationEntry, SkippedDigest, Subscriber
from clippost.planner.service import plan_due, preview_digest
from clippost.selection import ONE
from factories import add_reader, add_suppression, service_context

# A Monday. Daily digests at 07:00 in Paris are due at 06:00 UTC in winter.
SLOT = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
RUNNER = Path(__file__).with_name("run_planner.py")


async def digests(db: Database) -> list[OutboxMessage]:
    async with db.sessions() as session:
        found = await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return list(found.all())


async def skipped(db: Database) -> list[tuple[datetime, str]]:
    async with db.sessions() as session:
        rows = await session.execute(
            select(SkippedDigest.slot, SkippedDigest.reason).order_by(SkippedDigest.slot)
        )
        return [(slot, reason) for slot, reason in rows]


async def stored_slot(db: Database, reader_id: int) -> datetime | None:
    async with db.sessions() as session:
        reader = await session.get(Subscriber, reader_id)
        assert reader is not None
        return reader.next_slot_at


async def seed_readers(db: Database, count: int, *, highlights: int = 4) -> None:
    """`count` confirmed readers due at SLOT, each with `highlights` highlights over two
    books, in a few multi-row statements (add_reader makes one reader a transaction)."""
    async with db.transaction() as session:
        await session.execute(
            insert(Subscriber),
            [
                {
                    "id": n + 1,
                    "email": f"r{n}@example.org",
                    "status": "confirmed",
                    "cadence": "daily",
                    "timezone": "Europe/Paris",
                    "per_email": 2,
                    "next_slot_at": SLOT,
                }
                for n in range(count)
            ],
        )
        await session.execute(
            insert(Book),
            [
                {"id": 2 * n + b + 1, "subscriber_id": n + 1, "identity": f"b{b}", "title": "T"}
                for n in range(count)
                for b in range(2)
            ],
        )
        await session.execute(
            insert(Highlight),
            [
                {
                    "subscriber_id": n + 1,
                    "book_id": 2 * n + k % 2 + 1,
                    "identity": f"h{k}",
                    "text": f"Passage {k} of reader {n}, long enough to send",
                }
                for n in range(count)
                for k in range(highlights)
            ],
        )


def planner_process(url: str, now: datetime, *extra: str) -> subprocess.Popen[str]:
    src = Path(__file__).resolve().parents[2] / "src"
    return subprocess.Popen(
        [sys.executable, str(RUNNER), url, now.isoformat(), *extra],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(src)},
    )


class TestPlanningAhead:
    async def test_a_slot_within_the_horizon_is_planned_due_at_the_slot(
        self, database: Database, settings: Settings
    ) -> None:
        """Twenty minutes before the slot, the digest is queued, due at the slot itself."""
        reader_id = await add_reader(database, next_slot_at=SLOT)
        now = SLOT - timedelta(minutes=20)
        assert await plan_due(database, service_context(settings, now=now)) == 1
        [digest] = await digests(database)
        assert digest.due_at == SLOT
        assert await stored_slot(database, reader_id) == SLOT + timedelta(days=1)

    async def test_a_slot_beyond_the_horizon_waits(
        self, database: Database, settings: Settings
    ) -> None:
        """Forty minutes before the slot (the horizon is thirty), nothing is planned."""
        reader_id = await add_reader(database, next_slot_at=SLOT)
        now = SLOT - timedelta(minutes=40)
        assert await plan_due(database, service_context(settings, now=now)) == 0
        assert await stored_slot(database, reader_id) == SLOT

    async def test_the_horizon_is_a_setting(self, database: Database, settings: Settings) -> None:
        """With CLIPPOST_PLAN_AHEAD_MINUTES=0 a digest is planned only once its slot comes."""
        await add_reader(database, next_slot_at=SLOT)
        early = settings.model_copy(update={"plan_ahead_minutes": 0.0})
        before = service_context(early, now=SLOT - timedelta(minutes=1))
        assert await plan_due(database, before) == 0
        assert await plan_due(database, service_context(early, now=SLOT)) == 1
        assert len(await digests(database)) == 1


class TestLateness:
    async def test_after_downtime_only_the_latest_slot_is_sent(
        self, database: Database, settings: Settings
    ) -> None:
        """Three days down: today's slot is sent (an hour late), the two before are
        recorded as missed."""
        await add_reader(database, next_slot_at=SLOT - timedelta(days=2))
        now = SLOT + timedelta(hours=1)
        assert await plan_due(database, service_context(settings, now=now)) == 1
        [digest] = await digests(database)
        assert digest.due_at == SLOT
        assert await skipped(database) == [
            (SLOT - timedelta(days=2), "missed"),
            (SLOT - timedelta(days=1), "missed"),
        ]

    async def test_a_slot_past_the_limit_is_skipped_as_late(
        self, database: Database, settings: Settings
    ) -> None:
        """Thirteen hours after its slot (the limit is twelve), nothing is sent: the slot is
        recorded as late and the reader waits for tomorrow's."""
        reader_id = await add_reader(database, next_slot_at=SLOT)
        now = SLOT + timedelta(hours=13)
        assert await plan_due(database, service_context(settings, now=now)) == 0
        assert await digests(database) == []
        assert await skipped(database) == [(SLOT, "late")]
        assert await stored_slot(database, reader_id) == SLOT + timedelta(days=1)

    async def test_the_limit_is_a_setting(self, database: Database, settings: Settings) -> None:
        """With CLIPPOST_DIGEST_MAX_LATENESS_HOURS=1, two hours late is too late."""
        await add_reader(database, next_slot_at=SLOT)
        strict = settings.model_copy(update={"digest_max_lateness_hours": 1.0})
        now = SLOT + timedelta(hours=2)
        assert await plan_due(database, service_context(strict, now=now)) == 0
        assert await skipped(database) == [(SLOT, "late")]

    async def test_a_rerun_records_nothing_twice(
        self, database: Database, settings: Settings
    ) -> None:
        """A skipped slot is recorded once, however often it is planned over."""
        reader_id = await add_reader(database, next_slot_at=SLOT)
        ctx = service_context(settings, now=SLOT + timedelta(hours=13))
        await plan_due(database, ctx)
        async with database.transaction() as session:
            reader = await session.get(Subscriber, reader_id)
            assert reader is not None
            reader.next_slot_at = SLOT
        await plan_due(database, ctx)
        assert await skipped(database) == [(SLOT, "late")]


class TestSuppressed:
    async def test_a_suppressed_address_is_skipped_with_its_reason(
        self, database: Database, settings: Settings
    ) -> None:
        """A reader whose address bounced gets no digest: the slot is recorded as skipped
        with the suppression's reason, and the reader moves on to the next slot."""
        reader_id = await add_reader(database, next_slot_at=SLOT)
        await add_suppression(database, email="reader@example.org", reason="bounced")
        now = SLOT + timedelta(seconds=30)
        assert await plan_due(database, service_context(settings, now=now)) == 0
        assert await digests(database) == []
        assert await skipped(database) == [(SLOT, "suppressed (bounced)")]
        assert await stored_slot(database, reader_id) == SLOT + timedelta(days=1)


class TestRotationState:
    async def test_the_first_plan_lays_the_library_out(
        self, database: Database, settings: Settings
    ) -> None:
        """A fresh library is placed (every highlight gets a rotation row with a turn, a
        stride and copies of its book, weight, flag and date), its size counted, and the
        reader is no longer stale."""
        reader_id = await add_reader(database, next_slot_at=SLOT, highlights=6)
        async with database.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(RotationEntry)) == 0
        await plan_due(database, service_context(settings, now=SLOT))
        async with database.sessions() as session:
            reader = await session.get(Subscriber, reader_id)
            highlights = {h.id: h for h in (await session.scalars(select(Highlight))).all()}
            rows = (await session.scalars(select(RotationEntry))).all()
        assert reader is not None
        assert (reader.rotation_stale, reader.rotation_size) == (False, 6)
        assert sorted(row.highlight_id for row in rows) == sorted(highlights)
        assert all(row.turn is not None and row.stride == ONE for row in rows)
        assert all(row.in_rotation and row.subscriber_id == reader_id for row in rows)
        for row in rows:
            highlight = highlights[row.highlight_id]
            copied = (row.book_id, row.weight, row.favourite, row.highlighted_at)
            assert copied == (highlight.book_id, 1.0, highlight.favourite, highlight.highlighted_at)
        assert sum(row.times_sent for row in rows) == 3
        assert reader.rotation_clock > 0  # the clock moved past the three sent

    async def test_a_discard_marks_the_reader_stale_and_is_never_chosen(
        self, database: Database, settings: Settings
    ) -> None:
        """Discarding marks the library stale; the next plan takes the highlight out of the
        rotation, and no later digest holds it."""
        reader_id = await add_reader(database, next_slot_at=SLOT, highlights=6)
        await plan_due(database, service_context(settings, now=SLOT))
        async with database.sessions() as session:
            first = await session.scalar(select(func.min(Highlight.id)))
        assert first is not None
        async with database.transaction() as session:
            assert await library_repository.set_flags(
                session, reader_id, first, {"discarded": True}
            )
            reader = await session.get(Subscriber, reader_id)
            assert reader is not None
            assert reader.rotation_stale
        for day in range(1, 5):
            await plan_due(database, service_context(settings, now=SLOT + timedelta(days=day)))
        async with database.sessions() as session:
            reader = await session.get(Subscriber, reader_id)
            row = await session.get(Highlight, first)
            placed = await session.get(RotationEntry, first)
        assert reader is not None
        assert row is not None
        assert placed is not None
        assert (reader.rotation_size, placed.in_rotation) == (5, False)
        texts = [h["text"] for d in (await digests(database))[1:] for h in d.payload["highlights"]]
        assert row.text not in texts
        assert len(texts) == 4 * 3

    async def test_a_favourite_and_a_frequency_reach_the_rotation_rows_copies(
        self, database: Database, settings: Settings
    ) -> None:
        """The window reads the rotation rows' copies, not the highlights: after a favourite
        and a book set to "more", the next plan writes both into the rows (the favourite's
        stride shorter, the book's weight 2.0), and keeps each row's send count."""
        reader_id = await add_reader(database, next_slot_at=SLOT, highlights=6)
        await plan_due(database, service_context(settings, now=SLOT))
        async with database.sessions() as session:
            before = {r.highlight_id: r for r in (await session.scalars(select(RotationEntry)))}
            book_id = await session.scalar(select(Book.id))
        assert book_id is not None
        chosen = min(before)
        async with database.transaction() as session:
            assert await library_repository.set_flags(
                session, reader_id, chosen, {"favourite": True}
            )
            assert await library_repository.set_frequency(session, reader_id, book_id, "more")
        await plan_due(database, service_context(settings, now=SLOT + timedelta(days=1)))
        async with database.sessions() as session:
            session.expire_all()
            after = {r.highlight_id: r for r in (await session.scalars(select(RotationEntry)))}
            in_book = set(
                await session.scalars(select(Highlight.id).where(Highlight.book_id == book_id))
            )
        assert sorted(after) == sorted(before)
        assert after[chosen].favourite is True
        assert all(not after[i].favourite for i in after if i != chosen)
        assert all(after[i].weight == (2.0 if i in in_book else 1.0) for i in after)
        assert all(after[i].stride < before[i].stride for i in in_book | {chosen})
        assert sum(r.times_sent for r in after.values()) == 6  # three a digest, twice

    async def test_a_copy_out_of_step_is_rewritten_when_nothing_else_moved(
        self, database: Database, settings: Settings
    ) -> None:
        """A rotation row whose copies no longer match its highlight (a date the device
        rewrote, a weight from before a change) is rewritten at the next layout, though its
        turn, stride and flag still hold."""
        reader_id = await add_reader(database, next_slot_at=SLOT, highlights=6)
        await plan_due(database, service_context(settings, now=SLOT))
        made = datetime(2020, 5, 6, 7, 8)  # the device's naive local time
        async with database.transaction() as session:
            chosen = await session.scalar(select(func.min(Highlight.id)))
            row = await session.get(RotationEntry, chosen)
            assert row is not None
            turn, stride = row.turn, row.stride
            highlight = await session.get(Highlight, chosen)
            assert highlight is not None
            highlight.highlighted_at = made
            subscriber = await session.get(Subscriber, reader_id)
            assert subscriber is not None
            subscriber.rotation_stale = True
        await plan_due(database, service_context(settings, now=SLOT + timedelta(days=1)))
        async with database.sessions() as session:
            row = await session.get(RotationEntry, chosen)
        assert row is not None
        assert row.highlighted_at == made
        assert row.stride == stride
        assert row.turn is not None
        assert row.turn >= (turn or 0)

    async def test_a_library_comes_round_before_anything_repeats(
        self, database: Database, settings: Settings
    ) -> None:
        """Six highlights, three a digest: the first two digests hold all six, once each."""
        await add_reader(database, next_slot_at=SLOT, highlights=6)
        for day in range(2):
            await plan_due(database, service_context(settings, now=SLOT + timedelta(days=day)))
        texts = [h["text"] for d in await digests(database) for h in d.payload["highlights"]]
        assert len(texts) == len(set(texts)) == 6


class TestPreview:
    async def test_the_preview_is_the_digest_and_changes_nothing(
        self, database: Database, settings: Settings
    ) -> None:
        """`preview_digest` shows the passages the planner then queues, for a fresh library
        and after a digest, and writes nothing (the library stays stale until planned)."""
        reader_id = await add_reader(database, next_slot_at=SLOT, highlights=7)
        for day in range(2):
            ctx = service_context(settings, now=SLOT + timedelta(days=day))
            preview = await preview_digest(database, reader_id, ctx)
            assert preview is not None
            async with database.sessions() as session:
                reader = await session.get(Subscriber, reader_id)
                assert reader is not None
                assert reader.rotation_stale is (day == 0)
            await plan_due(database, ctx)
            planned = (await digests(database))[-1].payload
            assert [h["text"] for h in preview["highlights"]] == [
                h["text"] for h in planned["highlights"]
            ]
            assert preview["round_status"] == planned["round_status"]


class TestPayload:
    async def test_the_payload_is_version_3(self, database: Database, settings: Settings) -> None:
        """The digest stores the v3 payload: locale, timezone, slot, schedule, dates, each
        passage's one HIGHLIGHT token (naming it and the reader's link generation) and the
        email's manage link."""
        await add_reader(database, next_slot_at=SLOT)
        # A date the last microsecond of its day, and one missing: each passage shows its own.
        made = {
            hid: datetime(2021, 3, hid, 23, 59, 59, 999999) if hid % 2 else None
            for hid in range(1, 7)
        }
        async with database.transaction() as session:
            for hid, moment in made.items():
                await session.execute(
                    update(Highlight).where(Highlight.id == hid).values(highlighted_at=moment)
                )
        await plan_due(database, service_context(settings, now=SLOT))
        [digest] = await digests(database)
        payload = digest.payload
        shown = {h["id"]: h["highlighted_on"] for h in payload["highlights"]}
        assert None in shown.values()
        assert any(shown.values())
        assert shown == {hid: None if made[hid] is None else f"2021-03-{hid:02d}" for hid in shown}
        assert payload["v"] == 3
        assert (payload["timezone"], payload["slot"]) == ("Europe/Paris", SLOT.isoformat())
        assert payload["schedule"] == {
            "cadence": "daily",
            "hour": 7,
            "weekday": 0,
            "day_of_month": 1,
            "timezone": "Europe/Paris",
        }
        first = payload["highlights"][0]
        links = service_context(settings, now=SLOT).links
        token = links.read(Purpose.HIGHLIGHT, first["link"], now=SLOT + timedelta(days=3650))
        assert (token.subject, token.extra) == (str(first["id"]), "0")
        assert not {"favourite_url", "discard_url", "passage_url"} & set(first)
        assert "highlighted_on" in first
        assert payload["manage_url"].startswith("http://testserver/manage/")
        assert payload["round_status"]["total"] == 6
        # The suppression check's hash of the address, stored as the claim checks it again.
        assert digest.recipient_hash == address_hash(digest.recipient)


def _race_in_threads(url: str, settings: Settings, count: int) -> list[int]:
    results: list[int] = []

    def run() -> None:
        async def plan() -> int:
            db = Database(normalise_database_url(url))
            try:
                return await plan_due(db, service_context(settings, now=SLOT))
            finally:
                await db.dispose()

        results.append(asyncio.run(plan()))

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


class TestRacingPlanners:
    async def test_planners_in_threads_make_one_digest_per_slot(
        self, database_url: str, database: Database, settings: Settings
    ) -> None:
        """Three planners in threads, each with its own engine, over 1,200 readers (three
        batches' worth): exactly one digest per reader."""
        await seed_readers(database, 1200)
        counts = await asyncio.to_thread(_race_in_threads, database_url, settings, 3)
        assert sum(counts) == 1200
        found = await digests(database)
        assert len({d.subscriber_id for d in found}) == len(found) == 1200

    async def test_planner_processes_make_one_digest_per_slot_and_share(
        self, database_url: str, database: Database, tmp_path: Path
    ) -> None:
        """Two planner processes started together over 2,000 readers queue exactly one
        digest each; on PostgreSQL (SKIP LOCKED) each process plans a share."""
        await seed_readers(database, 2000)
        go = tmp_path / "go"
        processes = [planner_process(database_url, SLOT, "--go", str(go)) for _ in range(2)]
        for process in processes:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
        go.touch()
        counts = [int(process.communicate()[0].strip()) for process in processes]
        assert sum(counts) == 2000
        found = await digests(database)
        assert len({d.subscriber_id for d in found}) == len(found) == 2000
        if database.dialect == "postgresql":
            assert min(counts) > 0, counts


class TestKilledPlanner:
    async def test_a_planner_killed_mid_batch_loses_and_duplicates_nothing(
        self, database_url: str, database: Database, settings: Settings
    ) -> None:
        """A planner killed (SIGKILL) inside its batch's transaction leaves nothing behind;
        the next planner plans every reader exactly once."""
        await seed_readers(database, 600)
        process = planner_process(database_url, SLOT, "--hang")
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "hanging"
        process.kill()
        process.wait()
        assert await digests(database) == []
        async with database.sessions() as session:
            moved = await session.scalar(
                select(func.count()).where(Subscriber.next_slot_at != SLOT)
            )
            sent = await session.scalar(select(func.count()).select_from(RotationEntry))
        assert (moved, sent) == (0, 0)  # not even laid out: the batch rolled back whole
        assert await plan_due(database, service_context(settings, now=SLOT)) == 600
        found = await digests(database)
        assert len({d.subscriber_id for d in found}) == len(found) == 600

    async def test_a_planner_killed_with_its_batches_open_loses_and_duplicates_nothing(
        self, database_url: str, database: Database, settings: Settings
    ) -> None:
        """A planner killed while as many batches as it keeps in flight are open at once
        (two on PostgreSQL, claimed apart) leaves nothing behind; the next plans every
        reader exactly once."""
        await seed_readers(database, 1200)
        in_flight = batches_in_flight(database)
        process = planner_process(database_url, SLOT, "--hang-open", str(in_flight))
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "hanging"
        process.kill()
        process.wait()
        assert await digests(database) == []
        async with database.sessions() as session:
            moved = await session.scalar(
                select(func.count()).where(Subscriber.next_slot_at != SLOT)
            )
        assert moved == 0
        assert await plan_due(database, service_context(settings, now=SLOT)) == 1200
        found = await digests(database)
        assert len({d.subscriber_id for d in found}) == len(found) == 1200
