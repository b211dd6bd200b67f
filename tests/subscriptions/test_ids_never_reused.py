"""Ids named by links are never handed out twice (SQLite reuses the largest rowid after a
delete unless the table is AUTOINCREMENT; PostgreSQL sequences never do).

Links carry ids: every token names a subscriber, favourite and discard links a highlight,
confirm and add links a pending import. An id reused after an erase would let an old link
act on somebody else's row."""

from __future__ import annotations

from clippost.db.engine import Database
from clippost.library import repository as library_repository
from clippost.subscriptions import repository as repo
from factories import NOW, add_pending_import, add_pending_reader, make_library


class TestIdsNeverReused:
    async def test_an_erased_readers_ids_are_not_given_to_the_next_reader(
        self, database: Database
    ) -> None:
        """After the newest reader is erased, the next reader and highlights get new ids."""
        library = make_library({("Dune", "Frank Herbert"): ["Fear is the mind-killer."]})
        async with database.transaction() as session:
            first = await add_pending_reader(session, email="first@example.org")
            await library_repository.merge_library(session, first, library, now=NOW)
        first_highlights = {view.id for view in await _highlights(database, first)}
        async with database.transaction() as session:
            await repo.delete_subscriber(session, first)
        async with database.transaction() as session:
            second = await add_pending_reader(session, email="second@example.org")
            await library_repository.merge_library(session, second, library, now=NOW)
        assert second > first
        second_highlights = {view.id for view in await _highlights(database, second)}
        assert second_highlights.isdisjoint(first_highlights)

    async def test_a_second_pending_import_gets_a_new_id(
        self, database: Database, subscriber_id: int
    ) -> None:
        """Signing up again stores another pending import under a new id: each link names
        its own, and the new confirmation email's idempotency key is new."""
        first = await add_pending_import(database, subscriber_id=subscriber_id)
        second = await add_pending_import(database, subscriber_id=subscriber_id)
        assert second > first


async def _highlights(db: Database, subscriber_id: int) -> list[object]:
    async with db.sessions() as session:
        return list(await library_repository.all_highlights(session, subscriber_id))
