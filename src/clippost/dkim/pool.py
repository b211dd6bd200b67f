"""Signing processes: the private-key operations of a batch, spread over the cores.

An RSA-2048 signature is about a millisecond of one core with OpenSSL (`openssl speed
rsa2048`: ~1,100 a CPU-second on the machines clippost is measured on), and
`cryptography` holds the GIL while it signs, so threads would not help: a sender that
signed in its own process would stop near 1,000 messages a second whatever else it did.
Here the sending process canonicalises and hashes (tens of microseconds), and only the
32-byte digests travel to the signing processes, which hold the keys and send back the
signatures: a few hundred bytes each way per message, in chunks, so the pipes cost little.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import multiprocessing
import signal
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.context import BaseContext

from clippost.dkim.keys import Algorithm, PrivateKey, SigningKey, parse_key, sign_digest

log = logging.getLogger(__name__)
Digests = tuple[bytes, ...]  # one SHA-256 digest per key, in the keys' order

_KEYS: list[PrivateKey] = []  # in a signing process: the keys, loaded once by _load


class PoolUnavailable(Exception):
    """The signing processes could not be started, or one died: sign in-process instead."""


class SigningPool:
    """Signing processes for one set of keys, started with the first chunk to sign."""

    def __init__(self, keys: Sequence[SigningKey], processes: int) -> None:
        self._keys = tuple((key.algorithm, key.pem) for key in keys)
        self._processes = processes
        self._executor: ProcessPoolExecutor | None = None

    @property
    def process_ids(self) -> list[int]:
        """The signing processes running now (they start with the first chunk)."""
        executor = self._executor
        return [] if executor is None else sorted(executor._processes or {})

    async def sign(self, digests: list[Digests]) -> list[Digests]:
        """The signatures of each message's digests; PoolUnavailable when no process can
        do it now (the next call starts new processes)."""
        executor = self._executor or self._start()
        try:
            return await asyncio.wrap_future(executor.submit(_sign_chunk, digests))
        except (BrokenProcessPool, OSError) as exc:
            if self._executor is executor:
                self._executor = None
                executor.shutdown(wait=False, cancel_futures=True)
            raise PoolUnavailable(str(exc) or type(exc).__name__) from exc

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            shutdown = functools.partial(executor.shutdown, cancel_futures=True)
            await asyncio.get_running_loop().run_in_executor(None, shutdown)

    def _start(self) -> ProcessPoolExecutor:
        try:
            self._executor = ProcessPoolExecutor(
                self._processes,
                mp_context=_context(),
                initializer=_load,
                initargs=(self._keys,),
            )
        except (OSError, NotImplementedError, ValueError) as exc:
            raise PoolUnavailable(str(exc)) from exc
        return self._executor


def _context() -> BaseContext:
    """A fork server where there is one (forking a process with threads copies their
    locks); spawn elsewhere."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("forkserver")
    return multiprocessing.get_context("spawn")


def _load(keys: tuple[tuple[Algorithm, bytes], ...]) -> None:
    """In a signing process: ignore Ctrl-C (stopping it is the sender's job), load keys."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _KEYS[:] = [parse_key(pem, algorithm, source="the key") for algorithm, pem in keys]


def _sign_chunk(digests: list[Digests]) -> list[Digests]:
    keys = _KEYS
    return [tuple(map(sign_digest, keys, message)) for message in digests]
