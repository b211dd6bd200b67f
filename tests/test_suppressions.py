"""suppressions.py: who gets no more mail, on SQLite and PostgreSQL."""

from __future__ import annotations

from clippost import suppressions
from clippost.addresses import address_hash
from clippost.db.engine import Database
from clippost.models import SuppressionReason as Reason
from factories import NOW

ANN = address_hash("ann@example.org")
BOB = address_hash("bob@example.org")


async def reasons(db: Database) -> dict[str, str]:
    async with db.sessions() as session:
        connection = await session.connection()
        return await suppressions.reasons_for(connection, [ANN, BOB])


class TestSuppressions:
    async def test_a_bounce_outranks_what_the_reader_added(self, database: Database) -> None:
        """A hard bounce upgrades an unsubscribe and adds itself where there was none."""
        async with database.transaction() as session:
            await suppressions.suppress(session, ANN, Reason.UNSUBSCRIBED, now=NOW)
            connection = await session.connection()
            await suppressions.suppress_bounced(connection, [ANN, BOB], now=NOW)
        assert await reasons(database) == {ANN: "bounced", BOB: "bounced"}

    async def test_a_reader_lifts_only_what_they_added(self, database: Database) -> None:
        """Resubscribing lifts an unsubscribe, never a bounce."""
        async with database.transaction() as session:
            await suppressions.suppress(session, ANN, Reason.UNSUBSCRIBED, now=NOW)
            await suppressions.suppress(session, BOB, Reason.BOUNCED, now=NOW)
            await suppressions.lift_reader_suppressions(session, ANN)
            await suppressions.lift_reader_suppressions(session, BOB)
        assert await reasons(database) == {BOB: "bounced"}

    async def test_erasing_keeps_a_bounce_and_marks_the_rest_erased(
        self, database: Database
    ) -> None:
        """Erasing with "never email me again" leaves `erased`, unless a bounce must stay."""
        async with database.transaction() as session:
            await suppressions.suppress(session, ANN, Reason.UNSUBSCRIBED, now=NOW)
            await suppressions.suppress(session, BOB, Reason.BOUNCED, now=NOW)
            await suppressions.mark_erased(session, ANN, now=NOW)
            await suppressions.mark_erased(session, BOB, now=NOW)
            assert await suppressions.suppression_reason(session, ANN) == "erased"
        assert await reasons(database) == {ANN: "erased", BOB: "bounced"}
