"""Is the database ready for this process: reachable, and its schema at this code's head?

`/readyz` asks, so that a load balancer sends requests only to processes that can serve
them: during an upgrade, new processes answer 503 until `clippost db upgrade` has run (and
old ones, finding a newer schema than theirs, say so too).
"""

from __future__ import annotations

import asyncio

from clippost.db.engine import Database
from clippost.db.migrate import HEAD_REVISION, current_revision

# A readiness probe must answer quickly: an unreachable database is "not ready", not a hang.
TIMEOUT_SECONDS = 5.0


async def readiness_problem(db: Database, *, within: float = TIMEOUT_SECONDS) -> str | None:
    """None when ready; else a short reason (no host names, passwords or stack traces)."""
    try:
        async with asyncio.timeout(within):
            current = await current_revision(db)
    except TimeoutError:
        return "database not reachable (timed out)"
    except Exception as exc:  # any driver's connection error: the probe reports, never raises
        return f"database not reachable ({type(exc).__name__})"
    head = HEAD_REVISION
    if current != head:
        return f"database schema at {current or 'nothing'}, this version needs {head}"
    return None
