"""`clippost stats [--json]`: readers, the queue, lateness, the last days and their rates."""

from __future__ import annotations

import io
import json
from datetime import timedelta

from sqlalchemy import update

from clippost.cli import stats
from clippost.config import Settings
from clippost.db.base import utcnow
from clippost.models import OutboxMessage
from clippost.runtime import open_runtime
from factories import add_pending_reader, queue_messages


async def _seed(settings: Settings) -> None:
    """A pending reader, two digests sent today and one failed, one magic link due."""
    now = utcnow()
    async with open_runtime(settings) as runtime:
        async with runtime.db.transaction() as session:
            await add_pending_reader(session, email="one@example.org")
        await queue_messages(runtime.db, count=3, due_at=now - timedelta(minutes=5))
        async with runtime.db.transaction() as session:
            await session.execute(
                update(OutboxMessage).values(state="sent", finished_at=now, attempts=1)
            )
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.idempotency_key == "k2")
                .values(state="failed", last_error="554 refused")
            )
        await queue_messages(
            runtime.db,
            kind="magic_link",
            prefix="m",
            recipient="one@example.org",
            due_at=now - timedelta(minutes=10),
            payload={"manage_url": "http://testserver/manage/t", "expires_in": 3600},
            requested=True,
        )


class TestStatsCommand:
    async def test_text_figures(self, settings: Settings) -> None:
        """Readers by state, the queue by state, the oldest due wait, today's row."""
        await _seed(settings)
        out = io.StringIO()
        assert await stats.stats(settings, out=out) == 0
        text = out.getvalue()
        readers, rest = text.split("queue\n")
        assert readers.split() == ["readers", "pending", "1"]
        assert "  pending                1\n" in rest
        assert "  sent                   2\n" in rest
        assert "oldest due row waiting 10 min" in rest
        today = utcnow().date().isoformat()
        assert [line.split() for line in rest.splitlines() if line.strip().startswith(today)] == [
            [today, "2", "1", "0", "0"]
        ]
        assert "rates: failure 33.33%, bounce 0.00%, complaint 0.00%" in text

    async def test_json(self, settings: Settings) -> None:
        """--json is one object with the same figures, the queue by state and kind."""
        await _seed(settings)
        out = io.StringIO()
        await stats.stats(settings, out=out, as_json=True)
        found = json.loads(out.getvalue())
        assert found["readers"] == {"pending": 1}
        assert found["gauges"]["queue"] == {
            "failed": {"digest": 1},
            "pending": {"magic_link": 1},
            "sent": {"digest": 2},
        }
        assert len(found["days"]) == 7
        assert found["days"][-1]["sent"] == 2
        assert found["rates"]["failure"] == 1 / 3
        assert found["skipped"] == 0  # nothing recorded as skipped
