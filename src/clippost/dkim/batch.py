"""A batch signed ahead of the connections that send it.

The SMTP transport's connections take a batch's messages one by one. Waiting at each for
its signature would leave the signing processes idle between messages and the sockets idle
during each signature; so when a batch starts, every message is built and prepared here in
chunks, and each chunk's digests go to the signing processes at once. A connection then
waits only for the chunk that holds its next message, and the later chunks are signed
while the first ones are on the wire.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Generic, TypeVar

from clippost.dkim.pool import PoolUnavailable, SigningPool
from clippost.dkim.signer import DkimSigner, Prepared

log = logging.getLogger(__name__)
T = TypeVar("T")
# Messages per trip to a signing process: the first chunk small, so that the connections
# start after a few milliseconds, then doubling, so that the trips (each a pickle, two
# pipe writes and a wake-up of the event loop) cost little per message.
FIRST_CHUNK = 16
MAX_CHUNK = 128


class SigningFailed(Exception):
    """A message could not be signed (a signing process died, a key vanished): it is not
    sent unsigned, and is tried again later."""


class SignedBatch(Generic[T]):
    """The signed wire bytes of each item of a batch, by index."""

    def __init__(self, signer: DkimSigner, items: Sequence[T], build: Callable[[T], bytes]) -> None:
        self._signer = signer
        self._items = items
        self._build = build
        self._task: asyncio.Task[None] | None = None
        self._results: list[asyncio.Future[bytes]] = []
        if signer.pool is not None:
            loop = asyncio.get_running_loop()
            self._results = [loop.create_future() for _ in items]
            ahead = self._sign_ahead(signer.pool)
            self._task = loop.create_task(ahead, name="clippost-dkim-batch")

    async def get(self, index: int) -> bytes:
        """Item `index` built and signed. Raises what `build` raises for it (ValueError
        for a message that cannot be built), or SigningFailed."""
        if self._task is None:
            return self._signer.sign(self._build(self._items[index]))
        return await self._results[index]

    def close(self) -> None:
        """Stop signing what no connection will take (all of it was sent, or none can be)."""
        if self._task is not None:
            self._task.cancel()
        for future in self._results:
            if not future.cancel() and not future.cancelled():
                future.exception()  # retrieved: an error nobody asked for is not logged

    async def _sign_ahead(self, pool: SigningPool) -> None:
        chunks: list[asyncio.Task[None]] = []
        try:
            for indices in chunk_ranges(len(self._items)):
                prepared = self._prepare(indices)
                if prepared:
                    chunks.append(asyncio.create_task(self._sign_chunk(pool, prepared)))
                await asyncio.sleep(0)  # let the connections send what is signed already
            await asyncio.gather(*chunks)
        except Exception as exc:
            # A bug, not a message: whatever it is, the connections waiting must hear of it.
            log.exception("DKIM signing failed")
            self._fail_waiting(SigningFailed(f"DKIM signing failed: {exc!r}"))
        finally:
            for chunk in chunks:
                chunk.cancel()

    def _fail_waiting(self, error: SigningFailed) -> None:
        for future in self._results:
            if not future.done():
                future.set_exception(error)

    def _prepare(self, indices: range) -> list[tuple[int, Prepared]]:
        prepared = []
        for index in indices:
            try:
                prepared.append((index, self._signer.prepare(self._build(self._items[index]))))
            except ValueError as exc:
                self._results[index].set_exception(exc)
        return prepared

    async def _sign_chunk(self, pool: SigningPool, prepared: list[tuple[int, Prepared]]) -> None:
        try:
            signatures = await pool.sign([p.digests for _, p in prepared])
        except PoolUnavailable as exc:
            # Mail keeps going, signed, at the speed one process can sign.
            log.warning("DKIM signing processes unavailable (%s); signing in-process", exc)
            signatures = [self._signer.sign_inline(p.digests) for _, p in prepared]
        for (index, message), signed in zip(prepared, signatures, strict=True):
            with contextlib.suppress(asyncio.InvalidStateError):  # closed meanwhile
                self._results[index].set_result(self._signer.finish(message, signed))


def chunk_ranges(count: int) -> Iterator[range]:
    """The indices of `count` items in chunks of FIRST_CHUNK, twice that, ... MAX_CHUNK."""
    start, size = 0, FIRST_CHUNK
    while start < count:
        yield range(start, min(start + size, count))
        start, size = start + size, min(size * 2, MAX_CHUNK)
