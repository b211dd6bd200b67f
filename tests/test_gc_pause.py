"""gc_pause: the cyclic collector held off for a batch, and given back as it was."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Iterator

import pytest

from clippost.gc_pause import collector_paused


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


class TestCollectorPaused:
    def test_paused_inside_and_running_again_after(self) -> None:
        gc.enable()
        with collector_paused():
            assert not gc.isenabled()
        assert gc.isenabled()

    def test_running_again_after_an_exception(self) -> None:
        gc.enable()
        with pytest.raises(RuntimeError), collector_paused():
            raise RuntimeError("the batch failed")
        assert gc.isenabled()

    def test_a_collector_turned_off_by_the_process_stays_off(self) -> None:
        gc.disable()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()

    def test_overlapping_pauses_resume_when_the_last_ends(self) -> None:
        """Two tasks planning at once in one process: the one that finishes first does not
        turn the collector back on under the other."""
        gc.enable()
        first_done = asyncio.Event()
        seen: list[bool] = []

        async def short() -> None:
            with collector_paused():
                await asyncio.sleep(0)
            first_done.set()

        async def long() -> None:
            with collector_paused():
                await first_done.wait()
                seen.append(gc.isenabled())
            seen.append(gc.isenabled())

        async def both() -> None:
            await asyncio.gather(long(), short())

        asyncio.run(both())
        assert seen == [False, True]

    def test_pauses_on_threads_and_the_event_loop_count_together(self) -> None:
        """An upload parsed on a thread while a batch is planned: the planner's pause
        ending first leaves the collector off under the thread's; the thread's ending
        turns it on."""
        gc.enable()
        inside = threading.Event()
        leave = threading.Event()
        seen: list[bool] = []

        def parse() -> None:
            with collector_paused():
                inside.set()
                leave.wait(timeout=5)
            seen.append(gc.isenabled())  # the last pause ended: on again

        thread = threading.Thread(target=parse)
        with collector_paused():
            thread.start()
            assert inside.wait(timeout=5)
        seen.append(gc.isenabled())  # the thread's pause still holds
        leave.set()
        thread.join(timeout=5)
        assert seen == [False, True]
