"""The manage page, reached by a magic link: preferences, library, upload, export, erase.

Every action re-reads the subscriber from the manage token (signed, expiring, naming the
link generation), then calls the one service function for the action, in one transaction.
Actions answer with a 303 back to the page (reloading never repeats them).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import urlencode

from fastapi import APIRouter
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from clippost.addresses import normalise_email
from clippost.errors import BadInput
from clippost.library.service import (
    export_library,
    library_overview,
    search_highlights,
    set_book_frequency,
    set_highlight_flags,
    upload_more,
)
from clippost.links import Purpose
from clippost.subscriptions.manage import (
    erase,
    request_manage_link,
    resubscribe,
    subscriber_from_manage_token,
    update_preferences,
)
from clippost.web import deps
from clippost.web.choices import form_choices

router = APIRouter()

EXPORT_FORMATS = ("markdown", "csv", "json")
_DONE = {
    "preferences": "Your preferences are saved.",
    "book": "The book's frequency is saved.",
    "highlight": "The highlight is updated.",
    "resubscribed": "Welcome back: your emails start again on your schedule.",
}
# Buttons on a highlight: which flag each sets.
_FLAG_ACTIONS = {
    "favourite": {"favourite": True},
    "unfavourite": {"favourite": False},
    "discard": {"discarded": True},
    "restore": {"discarded": False},
}


@router.get("/manage")
async def manage_request_page(request: Request) -> Response:
    return deps.render(request, "manage_request.html")


@router.post("/manage")
async def manage_request_submit(request: Request) -> Response:
    form = await deps.read_form(request, limit=deps.SMALL_FORM_BYTES)
    email = normalise_email(deps.text_field(form, "email"))
    async with deps.transaction(request) as session:
        await request_manage_link(
            session, deps.context(request), email=email, client_ip=deps.client_ip(request)
        )
    return RedirectResponse("/check-inbox?sent=manage", status_code=303)


@router.get("/manage/{token}")
async def manage_page(
    request: Request, token: str, q: str = "", book: str = "", done: str = ""
) -> Response:
    book_id = _book_id(book)
    async with deps.transaction(request) as session:
        subscriber = await subscriber_from_manage_token(session, deps.context(request), token)
        library = await library_overview(session, subscriber.id)
        highlights = await search_highlights(session, subscriber.id, q[:200], book_id=book_id)
    values = {
        "token": token,
        "subscriber": subscriber,
        "library": library,
        "highlights": highlights,
        "query": q[:200],
        "book_id": book_id,
        "done": _DONE.get(done, ""),
        "choices": form_choices(),
        "export_formats": EXPORT_FORMATS,
        "max_mb": deps.settings(request).max_upload_mb,
        "unsubscribe_path": _unsubscribe_path(request, subscriber.id),
    }
    return deps.render(request, "manage.html", values)


@router.post("/manage/{token}/preferences")
async def save_preferences(request: Request, token: str) -> Response:
    form = await deps.read_form(request, limit=deps.SMALL_FORM_BYTES)
    preferences = deps.preferences(form)
    async with deps.transaction(request) as session:
        ctx = deps.context(request)
        subscriber = await subscriber_from_manage_token(session, ctx, token)
        await update_preferences(session, ctx, subscriber.id, preferences)
    return _back(token, done="preferences", anchor="preferences")


@router.post("/manage/{token}/books/{book_id}")
async def save_book_frequency(request: Request, token: str, book_id: int) -> Response:
    form = await deps.read_form(request, limit=deps.SMALL_FORM_BYTES)
    frequency = deps.text_field(form, "frequency")
    async with deps.transaction(request) as session:
        subscriber = await subscriber_from_manage_token(session, deps.context(request), token)
        await set_book_frequency(session, subscriber.id, book_id, frequency)
    return _back(token, done="book", anchor="library")


@router.post("/manage/{token}/highlights/{highlight_id}")
async def flag_highlight(request: Request, token: str, highlight_id: int) -> Response:
    form = await deps.read_form(request, limit=deps.SMALL_FORM_BYTES)
    flags = _FLAG_ACTIONS.get(deps.text_field(form, "action"))
    if flags is None:
        raise BadInput("Choose favourite, unfavourite, discard or restore.")
    async with deps.transaction(request) as session:
        subscriber = await subscriber_from_manage_token(session, deps.context(request), token)
        await set_highlight_flags(session, subscriber.id, highlight_id, **flags)
    return _back(token, done="highlight", anchor="results", search=_search_state(form))


@router.post("/manage/{token}/upload")
async def upload(request: Request, token: str) -> Response:
    limit = deps.settings(request).max_upload_bytes + deps.FORM_OVERHEAD_BYTES
    form = await deps.read_form(request, limit=limit)
    ctx = deps.context(request)
    async with deps.transaction(request) as session:
        await subscriber_from_manage_token(session, ctx, token)  # a dead link: refuse early
    library = await deps.uploaded_library(request, form)
    async with deps.transaction(request) as session:
        subscriber = await subscriber_from_manage_token(session, ctx, token)
        result = await upload_more(session, ctx, subscriber.id, library)
    return deps.render(request, "added.html", {"result": result, "manage_url": f"/manage/{token}"})


@router.get("/manage/{token}/export/{fmt}")
async def export(request: Request, token: str, fmt: str) -> Response:
    if fmt not in EXPORT_FORMATS:
        raise BadInput("Choose an export format: markdown, csv or json.")
    async with deps.transaction(request) as session:
        subscriber = await subscriber_from_manage_token(session, deps.context(request), token)
        exported = await export_library(session, subscriber.id, fmt)
    filename = re.sub(r"[^A-Za-z0-9._-]", "_", exported.filename)[:100] or "clippost-export"
    return Response(
        exported.content,
        media_type=exported.media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.post("/manage/{token}/erase")
async def erase_everything(request: Request, token: str) -> Response:
    form = await deps.read_form(request, limit=deps.SMALL_FORM_BYTES)
    if deps.text_field(form, "confirm") != "yes":
        raise BadInput(
            "Nothing was erased: tick the box that confirms you want to erase everything, "
            "then press the button again."
        )
    never_again = deps.text_field(form, "never_email_again") == "yes"
    async with deps.transaction(request) as session:
        ctx = deps.context(request)
        subscriber = await subscriber_from_manage_token(session, ctx, token)
        await erase(session, ctx, subscriber.id, never_email_again=never_again)
    return deps.render(request, "erased.html", {"never_again": never_again})


@router.post("/manage/{token}/resubscribe")
async def resubscribe_submit(request: Request, token: str) -> Response:
    await deps.read_form(request, limit=deps.SMALL_FORM_BYTES)
    async with deps.transaction(request) as session:
        ctx = deps.context(request)
        subscriber = await subscriber_from_manage_token(session, ctx, token)
        await resubscribe(session, ctx, subscriber.id)
    return _back(token, done="resubscribed", anchor="status")


def _unsubscribe_path(request: Request, subscriber_id: int) -> str:
    token = deps.links(request).token(Purpose.UNSUBSCRIBE, subscriber_id, now=datetime.now(UTC))
    return f"/unsubscribe/{token}"


def _book_id(raw: str) -> int | None:
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 12:
        raise BadInput("Choose a book from the list.")
    return int(raw)


def _search_state(form: FormData) -> dict[str, str]:
    return {key: deps.text_field(form, key)[:200] for key in ("q", "book") if form.get(key)}


def _back(
    token: str, *, done: str, anchor: str, search: dict[str, str] | None = None
) -> RedirectResponse:
    query = urlencode({**(search or {}), "done": done})
    return RedirectResponse(f"/manage/{token}?{query}#{anchor}", status_code=303)
