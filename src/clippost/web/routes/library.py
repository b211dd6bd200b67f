"""The manage page's library actions: how often each book comes, a highlight's flags, more
highlights, exports. Each re-reads the reader from the manage token first."""

from __future__ import annotations

import re

import anyio.to_thread
from fastapi import APIRouter
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from clippost.db.base import row_id
from clippost.errors import BadInput, ClippostError, NotFound
from clippost.library.service import (
    export_library,
    merge_chunk,
    plan_upload,
    set_book_frequencies,
    set_highlight_flags,
    upload_result,
)
from clippost.subscriptions.export import export_everything
from clippost.subscriptions.manage import subscriber_from_manage_token
from clippost.subscriptions.pending import decode_library
from clippost.subscriptions.signup import upload_for_the_worker
from clippost.web import deps, limits
from clippost.web.manage_page import EXPORT_FORMATS, Listing, Refused, manage_page
from clippost.web.routes.manage import back
from clippost.web.security import CsrfRejected

router = APIRouter()

# Buttons on a highlight: which flag each sets.
_FLAG_ACTIONS = {
    "favourite": {"favourite": True},
    "unfavourite": {"favourite": False},
    "discard": {"discarded": True},
    "restore": {"discarded": False},
}
_FREQUENCY_FIELD = re.compile(r"frequency-([0-9]+)")
# One select per book: a library of a few thousand books still fits.
_BOOK_FORM_BYTES = 256 * 1024
_BOOK_FORM_FIELDS = 10_000


@router.post("/manage/{token}/books")
async def save_book_frequencies(request: Request, token: str) -> Response:
    form = await deps.read_form(request, limit=_BOOK_FORM_BYTES, max_fields=_BOOK_FORM_FIELDS)
    frequencies = {}
    for name in form:
        if found := _FREQUENCY_FIELD.fullmatch(name):
            book_id = row_id(found.group(1))
            if book_id is None:
                raise NotFound("That book is not in your library.")
            frequencies[book_id] = deps.text_field(form, name)
    async with deps.transaction(request) as session:
        subscriber = await subscriber_from_manage_token(session, deps.context(request), token)
        changed = await set_book_frequencies(session, subscriber.id, frequencies)
    return back(token, done="books" if changed else "books-unchanged", anchor="books")


@router.post("/manage/{token}/highlights/{highlight}")
async def flag_highlight(request: Request, token: str, highlight: str) -> Response:
    form = await deps.read_form(request, limit=deps.SMALL_FORM_BYTES)
    highlight_id = row_id(highlight)
    if highlight_id is None:  # the path is text: no number, or one no row has
        raise NotFound("That highlight is not in your library (it may have been erased).")
    flags = _FLAG_ACTIONS.get(deps.text_field(form, "action"))
    if flags is None:
        raise BadInput("Choose favourite, unfavourite, discard or restore.")
    listing = _listing(form)
    async with deps.transaction(request) as session:
        subscriber = await subscriber_from_manage_token(session, deps.context(request), token)
        await set_highlight_flags(session, subscriber.id, highlight_id, **flags)
    anchor = f"highlight-{highlight_id}"
    return back(token, done="highlight", anchor=anchor, listing=listing, h=str(highlight_id))


def _listing(form: FormData) -> Listing:
    """The list the reader was looking at (hidden fields), to go back to it."""
    fields = ("q", "book", "show", "offset")
    return Listing.parse(*(deps.text_field(form, name) for name in fields))


@router.post("/manage/{token}/upload")
async def upload(request: Request, token: str) -> Response:
    """Counted before the body is read; merged a chunk per transaction, so a big file never
    holds the write lock long (library/chunks.py); one of more than `merge_in_worker_over`
    highlights is merged by the worker, as an emailed add link's is, and the page follows
    it (web/routes/confirm.py)."""
    limit = deps.settings(request).max_upload_bytes + deps.FORM_OVERHEAD_BYTES
    ctx = deps.context(request)
    async with deps.read(request) as session:
        await subscriber_from_manage_token(session, ctx, token)  # a dead link: refuse early
    refused = Refused("upload")
    form = None
    try:
        await limits.client(request, "upload")  # before the body is read
        form = await deps.read_form(request, limit=limit)
        encoded = await deps.uploaded_import(request, form)
        async with deps.read(request) as session:
            subscriber = await subscriber_from_manage_token(session, ctx, token)
        if encoded.highlight_count > ctx.settings.merge_in_worker_over:
            add = await deps.write(
                request, lambda session: upload_for_the_worker(session, ctx, subscriber.id, encoded)
            )
            return RedirectResponse(f"/add/{add}/importing", status_code=303)
        library = await anyio.to_thread.run_sync(decode_library, encoded)
        async with deps.read(request) as session:
            pieces = await plan_upload(session, ctx, subscriber.id, library)
    except CsrfRejected:
        raise  # a stale form: the error page says to reload
    except ClippostError as error:  # too large, not a highlights file, empty, too many...
        if form is None:  # refused before the body was read: no page to render for it
            return limits.refused_unread(error, back=f"/manage/{token}", back_to="your page")
        refused.state.add("file", error)
        return await manage_page(request, token, Listing(), refused=refused)
    merged = []
    for piece in pieces:
        async with deps.transaction(request) as session:
            merged.append(await merge_chunk(session, ctx, subscriber.id, piece))
    async with deps.read(request) as session:
        result = await upload_result(session, subscriber.id, library, merged)
    return deps.render(request, "added.html", {"result": result, "manage_url": f"/manage/{token}"})


@router.get("/manage/{token}/export/{fmt}")
async def export(request: Request, token: str, fmt: str) -> Response:
    if (refused := limits.page_load(request)) is not None:
        return refused
    if fmt not in EXPORT_FORMATS:
        raise BadInput("Choose an export format: markdown, csv or json.")
    async with deps.read(request) as session:
        subscriber = await subscriber_from_manage_token(session, deps.context(request), token)
        if fmt == "json":  # everything clippost knows, the library included
            exported = await export_everything(session, subscriber.id)
        else:
            exported = await export_library(session, subscriber.id, fmt)
    filename = re.sub(r"[^A-Za-z0-9._-]", "_", exported.filename)[:100] or "clippost-export"
    return Response(
        exported.content,
        media_type=exported.media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
