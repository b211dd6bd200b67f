"""`clippost stats`: subscribers by status and outbox rows by state."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from clippost.config import Settings
from clippost.db.base import utcnow
from clippost.outbox import repository
from clippost.runtime import open_runtime
from clippost.subscriptions import repository as subscribers


async def command(args: argparse.Namespace) -> int:
    return await stats(Settings(), out=sys.stdout)


async def stats(settings: Settings, *, out: TextIO) -> int:
    """Print subscribers by status and outbox rows by state."""
    async with open_runtime(settings, with_transport=False) as runtime:
        found = await repository.stats(runtime.db, now=utcnow())
        by_status = await subscribers.count_by_status(runtime.db)
    out.write("subscribers\n")
    for status, count in sorted(by_status.items()):
        out.write(f"  {status:<14}{count:>10}\n")
    out.write("outbox\n")
    for state, count in sorted(found.by_state.items()):
        out.write(f"  {state:<14}{count:>10}\n")
    out.write(f"  {'due now':<14}{found.due_now:>10}\n  {'leased':<14}{found.leased:>10}\n")
    return 0
