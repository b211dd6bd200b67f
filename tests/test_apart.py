"""Warm processes for work too big for the event loop (clippost/apart.py): reused from call
to call, few however many calls come at once, killed when the last holder lets go."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import pytest

from clippost import apart


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A terminated child not yet reaped is a zombie: dead for every purpose here.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


# A process that starts a warm process, says its id, and waits to be killed.
_OWNER = """
import asyncio, os, time
from clippost import apart

async def main():
    with apart.held():
        print(await apart.in_a_process(os.getpid), flush=True)
        time.sleep(600)

asyncio.run(main())
"""


def _slow_pid(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


@pytest.fixture
def pool() -> object:
    with apart.held():
        yield
    assert apart.process_ids() == []


class TestWarmProcesses:
    async def test_calls_reuse_one_process(self, pool: object) -> None:
        """Two calls run in the same process, which is not this one."""
        first = await apart.in_a_process(os.getpid)
        second = await apart.in_a_process(os.getpid)
        assert first == second != os.getpid()

    async def test_calls_at_once_share_the_bounded_processes(self, pool: object) -> None:
        """Eight calls at once run in at most `PROCESSES` processes, one after another."""
        pids = await asyncio.gather(*(apart.in_a_process(_slow_pid, 0.05) for _ in range(8)))
        assert len(set(pids)) <= apart.PROCESSES
        assert len(apart.process_ids()) <= apart.PROCESSES

    async def test_the_processes_die_with_the_last_holder(self) -> None:
        """The warm processes outlive a holder's block while another holds them, and are
        killed when the last one lets go."""
        with apart.held():
            with apart.held():
                pid = await apart.in_a_process(os.getpid)
            assert _alive(pid)
            assert await apart.in_a_process(os.getpid) == pid
        assert not _alive(pid)
        assert apart.process_ids() == []

    async def test_a_warm_process_ends_with_an_owner_killed_outright(self) -> None:
        """An owner killed with SIGKILL (no chance to kill its pool) leaves no warm
        process behind: it sees its owner gone and exits."""
        owner = subprocess.Popen([sys.executable, "-c", _OWNER], stdout=subprocess.PIPE, text=True)
        try:
            assert owner.stdout is not None
            warm = int(await asyncio.to_thread(owner.stdout.readline))
            assert _alive(warm)
        finally:
            owner.send_signal(signal.SIGKILL)
            owner.wait(timeout=30)
        deadline = time.monotonic() + 30
        while _alive(warm):
            assert time.monotonic() < deadline, "the warm process outlived its owner"
            await asyncio.sleep(0.1)
