"""`clippost send-due`: what it prints, its exit status (tests/test_worker.py runs the loop)."""

from __future__ import annotations

import io

from clippost.cli import worker
from clippost.config import Settings
from clippost.db.base import utcnow
from clippost.runtime import open_runtime
from factories import queue_messages


class TestSendDueCommand:
    async def test_send_due_command_reports_what_it_did(self, settings: Settings) -> None:
        """`clippost send-due` prints what was planned and sent, and exits 0."""
        async with open_runtime(settings) as runtime:
            await queue_messages(
                runtime.db,
                kind="magic_link",
                recipient="one@example.org",
                due_at=utcnow(),
                payload={"manage_url": "http://testserver/manage/t", "expires_in": 3600},
                requested=True,
            )
        out = io.StringIO()
        assert await worker.send_due(settings, at=None, out=out) == 0
        assert "sent 1" in out.getvalue()
