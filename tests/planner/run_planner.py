"""A planner in a process of its own, for the tests that race or kill planners.

    python tests/planner/run_planner.py URL NOW [--go FILE] [--hang | --hang-open N]

Plans everything due at NOW (ISO 8601) on URL and prints how many digests it queued. With
`--go FILE` it first prints "ready" and waits for FILE to exist (so racing planners start
together). With `--hang` it stops inside its first batch, after choosing the digests and
before writing them, prints "hanging" and sleeps until it is killed. With `--hang-open N`
every batch stops there without blocking the loop (so the next batch is claimed and
chosen meanwhile), and "hanging" is printed once N batches' transactions are open at once.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import factories
from clippost.db.dialect import normalise_database_url
from clippost.db.engine import Database
from clippost.planner import service


def hang_before_writing() -> None:
    real = service._write

    async def hanging(*args: Any, **kwargs: Any) -> int:
        print("hanging", flush=True)
        while True:
            time.sleep(1)  # blocks the loop: the batch's transaction stays open
        return await real(*args, **kwargs)  # pragma: no cover

    service._write = hanging  # type: ignore[assignment]


def hang_with_batches_open(count: int) -> None:
    open_batches = 0

    async def hanging(*args: Any, **kwargs: Any) -> int:
        nonlocal open_batches
        open_batches += 1
        if open_batches == count:
            print("hanging", flush=True)
        while True:
            await asyncio.sleep(1)  # the batch's transaction stays open; the loop runs on

    service._write = hanging  # type: ignore[assignment]


async def run(url: str, now: datetime) -> int:
    with tempfile.TemporaryDirectory() as folder:
        settings = factories.make_settings(data_dir=Path(folder), database_url=url)
        db = Database(normalise_database_url(url))
        try:
            return await service.plan_due(db, factories.service_context(settings, now=now))
        finally:
            await db.dispose()


def main() -> None:
    url, now = sys.argv[1], datetime.fromisoformat(sys.argv[2])
    if "--hang" in sys.argv:
        hang_before_writing()
    if "--hang-open" in sys.argv:
        hang_with_batches_open(int(sys.argv[sys.argv.index("--hang-open") + 1]))
    if "--go" in sys.argv:
        go = Path(sys.argv[sys.argv.index("--go") + 1])
        print("ready", flush=True)
        while not go.exists():
            time.sleep(0.01)
    print(asyncio.run(run(url, now)), flush=True)


if __name__ == "__main__":
    main()
