"""A pending import applied a chunk per transaction, so that a 100,000-highlight confirm
never holds the write lock for more than one chunk (library/chunks.py).

Each chunk is claimed and merged in one short transaction: the claim moves the import's
`merged_chunks` counter on (PostgreSQL queues a second claimant on the row; SQLite
serialises writers), and the chunk's rows and what they added commit with it, so a chunk is
merged exactly once even when two clicks race, and a merge stopped by a killed process
resumes at the next chunk on the next click. Until the last chunk is in, the import is not
applied: the subscriber stays pending (a confirmation) and no page says it is done; the
transaction that applies it (`signup.confirm`, `signup.add_import`) then sees every chunk.

An import of more than `merge_in_worker_over` highlights is not merged by the request at
all: the click records a request (`request_merge`) and the worker merges it the same way,
a chunk per transaction (subscriptions/background_merge.py), while the page polls
`merge_status`. The request then costs a few small statements whatever the import's size,
and the decoding, cutting and merging of a 100,000-highlight upload never runs in a web
request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import overload

import anyio.to_thread
from sqlalchemy.ext.asyncio import AsyncSession

from clippost.clippings.models import Library
from clippost.context import ServiceContext
from clippost.errors import InvalidLink
from clippost.library import chunks
from clippost.library import repository as library_repository
from clippost.library.service import check_room
from clippost.links import Purpose
from clippost.models import PendingImport, Subscriber
from clippost.subscriptions import merge_queue
from clippost.subscriptions import pending as pending_codec
from clippost.subscriptions import repository as repo
from clippost.subscriptions.common import GONE, REPLACED, id_in_link
from clippost.subscriptions.merge_queue import MergeStatus
from clippost.subscriptions.preferences import Preferences

EXPIRED = "This link has expired. Please sign up again from the home page."


@dataclass(frozen=True, slots=True)
class MergePlan:
    """What applying one pending import takes: its chunks, and what comes with them."""

    subscriber_id: int
    pending_id: int
    chunks: Sequence[Library]
    preferences: Preferences | None
    language: str | None


async def plan_merge(
    session: AsyncSession, ctx: ServiceContext, purpose: Purpose, token: str
) -> MergePlan | None:
    """The chunks of the import a confirm or add link names; None once it is applied.

    Reads only (a read session will do): the payload is decoded in a thread, and the import
    is checked against the reader's limits (413) before anything is merged.
    """
    subscriber, pending = await pending_from_link(session, ctx, purpose, token)
    if pending.applied_at is not None:
        return None
    content = await anyio.to_thread.run_sync(pending_codec.decode, pending.payload)
    return await plan_of(session, ctx, subscriber.id, pending.id, content)


async def plan_of(
    session: AsyncSession,
    ctx: ServiceContext,
    subscriber_id: int,
    pending_id: int,
    content: pending_codec.Pending,
) -> MergePlan | None:
    if content.library is None:
        return None
    await check_room(session, ctx, subscriber_id, content.library)
    return MergePlan(
        subscriber_id=subscriber_id,
        pending_id=pending_id,
        chunks=chunks.split(content.library),
        preferences=content.preferences,
        language=content.library.language,
    )


@dataclass(frozen=True, slots=True)
class CutUpload:
    """A stored upload cut for the worker (`cut_upload`): each chunk encoded on its own, so
    that the worker's process decodes one chunk at a time, just before merging it."""

    chunks: tuple[bytes, ...]
    books: Library  # its books without their highlights: what `check_room_for` counts
    identities: tuple[str, ...]  # every highlight's identity
    preferences: Preferences | None


def cut_upload(payload: bytes) -> CutUpload | None:
    """Decode a pending import's payload and cut it into merge chunks; None once applied.

    Run in a process of its own (subscriptions/background_merge.py): decoding 100,000
    highlights is one `json.loads` of about 13 MB, which holds the GIL for most of a second,
    so a thread of the web's process would stall its event loop all the same.
    """
    content = pending_codec.decode(payload)
    library = content.library
    if library is None:
        return None
    encoded = tuple(
        pending_codec.encode(pending_codec.encode_library(piece), None)
        for piece in chunks.split(library)
    )
    books = tuple(
        replace(book, highlights=(), bookmarks=(), loose_notes=()) for book in library.books
    )
    return CutUpload(
        chunks=encoded,
        books=Library(books=books, language=library.language),
        identities=tuple(h.identity for book in library.books for h in book.highlights),
        preferences=content.preferences,
    )


class EncodedChunks(Sequence[Library]):
    """A plan's chunks kept encoded (`CutUpload.chunks`), each decoded when it is merged:
    about ten milliseconds for a chunk, where the whole upload at once is seconds."""

    def __init__(self, encoded: tuple[bytes, ...]) -> None:
        self._encoded = encoded
        self._decoded: tuple[int, Library] | None = None

    def prefetch(self, index: int) -> None:
        """Decode chunk `index` now (before its transaction takes the write lock), for the
        next `self[index]`; an index past the end is nothing to decode."""
        if 0 <= index < len(self._encoded):
            self._decoded = (index, self._decode(index))

    def __len__(self) -> int:
        return len(self._encoded)

    @overload
    def __getitem__(self, index: int) -> Library: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Library]: ...

    def __getitem__(self, index: int | slice) -> Library | Sequence[Library]:
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        if self._decoded is not None and self._decoded[0] == index:
            library = self._decoded[1]
            self._decoded = None
            return library
        return self._decode(index)

    def _decode(self, index: int) -> Library:
        library = pending_codec.decode(self._encoded[index]).library
        if library is None:  # pragma: no cover - `cut_upload` encodes a library in each
            raise ValueError("a merge chunk without its library")
        return library


async def merge_next(session: AsyncSession, ctx: ServiceContext, plan: MergePlan) -> bool:
    """Claim and merge the next chunk of `plan`; False when none is left to claim."""
    index = await repo.claim_chunk(session, plan.pending_id, total=len(plan.chunks))
    if index is None:
        return False
    await merge_chunk(session, ctx, plan, index)
    return True


async def merge_chunk(
    session: AsyncSession, ctx: ServiceContext, plan: MergePlan, index: int
) -> None:
    """Merge chunk `index` of `plan`, claimed by this transaction, and count what it added."""
    merged = await library_repository.merge_library(
        session, plan.subscriber_id, plan.chunks[index], now=ctx.now
    )
    await repo.count_merged(session, plan.pending_id, merged.new_books, merged.new_highlights)


# Imports merged by the worker: the request and the page that follows it ------------------


async def merge_status(
    session: AsyncSession, ctx: ServiceContext, purpose: Purpose, token: str
) -> MergeStatus:
    """The state of the import a link names, read without its upload; the link's checks
    are `pending_from_link`'s (4xx for a forged, expired or replaced link)."""
    data = ctx.links.read(purpose, token, now=ctx.now)
    subscriber_id = id_in_link(data.subject)
    if await repo.by_id(session, subscriber_id) is None:
        raise InvalidLink(GONE)
    found = await merge_queue.status(session, id_in_link(data.extra), subscriber_id)
    if found is None:
        raise InvalidLink(REPLACED)
    if not found.applied and found.expires_at <= ctx.now:
        raise InvalidLink(EXPIRED)
    return found


def for_the_worker(ctx: ServiceContext, status: MergeStatus) -> bool:
    """Whether the worker merges this import: one too big to merge inside a request, or one
    it was asked to already (a request waits, whatever the setting says now)."""
    if status.applied:
        return False
    big = status.highlight_count > ctx.settings.merge_in_worker_over
    return big or status.requested_at is not None or status.failure is not None


async def request_merge(
    session: AsyncSession, ctx: ServiceContext, purpose: Purpose, status: MergeStatus
) -> None:
    """Ask the worker to merge and apply the import; asking twice is asking once."""
    await merge_queue.request(session, status.pending_id, purpose=purpose.value, now=ctx.now)


async def pending_from_link(
    session: AsyncSession, ctx: ServiceContext, purpose: Purpose, token: str
) -> tuple[Subscriber, PendingImport]:
    data = ctx.links.read(purpose, token, now=ctx.now)
    subscriber = await repo.by_id(session, id_in_link(data.subject))
    if subscriber is None:
        raise InvalidLink(GONE)
    pending = await repo.pending_import(session, id_in_link(data.extra), subscriber.id)
    if pending is None:
        raise InvalidLink(REPLACED)
    if pending.applied_at is None and pending.expires_at <= ctx.now:
        raise InvalidLink(EXPIRED)
    return subscriber, pending
