"""`clippost stats [--json]`: readers, the queue, lateness, and the last seven days."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO

from clippost.cli.common import cli_runtime
from clippost.config import Settings
from clippost.db.base import utcnow
from clippost.stats.service import Stats, duration_text, gather


async def command(args: argparse.Namespace) -> int:
    return await stats(Settings(), out=sys.stdout, as_json=args.json)


async def stats(settings: Settings, *, out: TextIO, as_json: bool = False) -> int:
    """Print the operator's figures, as text or as one JSON object."""
    async with cli_runtime(settings, with_transport=False) as runtime:
        found = await gather(runtime.db, now=utcnow())
    if as_json:
        out.write(json.dumps(found.as_json(), indent=2) + "\n")
    else:
        out.write("".join(f"{line}\n" for line in text_lines(found)))
    return 0


def text_lines(found: Stats) -> list[str]:
    lines = ["readers"]
    lines += [f"  {status:<14}{count:>10}" for status, count in sorted(found.readers.items())]
    lines.append("queue")
    by_state: dict[str, int] = {}
    for (state, _kind), count in found.gauges.queue.items():
        by_state[state] = by_state.get(state, 0) + count
    lines += [f"  {state:<14}{count:>10}" for state, count in sorted(by_state.items())]
    lines += [f"  {'due now':<14}{found.due_now:>10}", f"  {'leased':<14}{found.leased:>10}"]
    lines.append(f"  oldest due row waiting {duration_text(found.gauges.oldest_due_seconds)}")
    lines.append(f"  planner lag {duration_text(found.gauges.planner_lag_seconds)}")
    lines.append(f"last {len(found.days)} days (UTC)")
    lines.append(f"  {'day':<12}{'sent':>9}{'failed':>9}{'bounces':>9}{'complaints':>12}")
    for day in found.days:
        lines.append(
            f"  {day.day.isoformat():<12}{day.sent:>9}{day.failed:>9}"
            f"{day.bounces:>9}{day.complaints:>12}"
        )
    if found.skipped is not None:
        lines.append(f"  skipped digests (too late, or the address suppressed): {found.skipped}")
    rates = found.rates
    lines.append(
        f"rates: failure {rates['failure']:.2%}, bounce {rates['bounce']:.2%}, "
        f"complaint {rates['complaint']:.2%}"
    )
    return lines
