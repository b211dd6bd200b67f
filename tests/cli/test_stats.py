"""`clippost stats`: subscribers by status, outbox rows by state."""

from __future__ import annotations

import io

from clippost.cli import stats
from clippost.config import Settings
from clippost.db.base import utcnow
from clippost.runtime import open_runtime
from factories import add_pending_reader, queue_messages


class TestStatsCommand:
    async def test_stats_command_counts_rows_by_state(self, settings: Settings) -> None:
        """`clippost stats` lists subscribers by status and outbox rows by state."""
        async with open_runtime(settings) as runtime:
            async with runtime.db.transaction() as session:
                await add_pending_reader(session, email="one@example.org")
            await queue_messages(
                runtime.db,
                kind="magic_link",
                recipient="one@example.org",
                due_at=utcnow(),
                payload={"manage_url": "http://testserver/manage/t", "expires_in": 3600},
                requested=True,
            )
        out = io.StringIO()
        assert await stats.stats(settings, out=out) == 0
        subscribers, outbox = out.getvalue().split("outbox\n")
        assert subscribers.split() == ["subscribers", "pending", "1"]
        assert "pending" in outbox
