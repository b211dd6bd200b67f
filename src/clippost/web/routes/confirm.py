"""Confirmation and add-highlights links: GET shows one button (link scanners that follow
every URL in an email change nothing); POST does it and shows what was imported.

An import of up to `merge_in_worker_over` highlights is merged by the POST, a chunk per
transaction before the one that applies it, so no other request waits for the whole merge.
A bigger one is handed to the worker (subscriptions/background_merge.py): the POST records
the request and redirects to `.../importing`, a page that refreshes itself (a meta
refresh: no script needed) with how far the merge has come, and shows the subscribed or
added page once it is done. Nothing of the upload's size runs in the request.
"""

from __future__ import annotations

import math
from datetime import timedelta

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from clippost.context import ServiceContext
from clippost.errors import PayloadTooLarge
from clippost.library.chunks import MERGE_CHUNK
from clippost.library.views import ImportResult
from clippost.links import Purpose
from clippost.subscriptions.merge_queue import MergeStatus
from clippost.subscriptions.merging import (
    MergePlan,
    for_the_worker,
    merge_next,
    merge_status,
    plan_merge,
    request_merge,
)
from clippost.subscriptions.signup import ConfirmResult, add_import, confirm
from clippost.web import deps, reader_cookie
from clippost.web.previews import next_digest

router = APIRouter()

# The importing page reloads itself this often; less often once nothing has moved for
# `STALLED` (no worker may be running: the page says so rather than spin for ever).
REFRESH_SECONDS = 2
STALLED = timedelta(minutes=1)
STALLED_REFRESH_SECONDS = 15


# Each link's path: the two links share every step but the one that applies the import.
_PATHS = {Purpose.CONFIRM: "confirm", Purpose.ADD_IMPORT: "add"}


@router.get("/confirm/{token}")
async def confirm_page(request: Request, token: str) -> Response:
    return await _button_page(request, Purpose.CONFIRM, token, "confirm.html")


@router.post("/confirm/{token}")
async def confirm_submit(request: Request, token: str) -> Response:
    return await _submit(request, Purpose.CONFIRM, token)


@router.get("/confirm/{token}/importing")
async def confirm_progress(request: Request, token: str) -> Response:
    return await _progress(request, Purpose.CONFIRM, token)


@router.get("/add/{token}")
async def add_page(request: Request, token: str) -> Response:
    return await _button_page(request, Purpose.ADD_IMPORT, token, "add.html")


@router.post("/add/{token}")
async def add_submit(request: Request, token: str) -> Response:
    return await _submit(request, Purpose.ADD_IMPORT, token)


@router.get("/add/{token}/importing")
async def add_progress(request: Request, token: str) -> Response:
    return await _progress(request, Purpose.ADD_IMPORT, token)


async def _submit(request: Request, purpose: Purpose, token: str) -> Response:
    """The button: hand a big import to the worker (and follow it), or merge it here in
    chunks and show what it did."""
    await deps.read_form(request, limit=deps.SMALL_FORM_BYTES)
    ctx = deps.context(request)
    if await _handed_to_worker(request, ctx, purpose, token):
        return _to_progress(token, _PATHS[purpose])
    plan = await _merge_in_chunks(request, ctx, purpose, token)
    async with deps.transaction(request) as session:
        result = await _apply(session, ctx, purpose, token, plan)
    return await _done_page(request, ctx, result)


async def _progress(request: Request, purpose: Purpose, token: str) -> Response:
    """The importing page; the done page once the worker has applied the import (read
    only: applying it again changes nothing, it reports what it did)."""
    ctx = deps.context(request)
    async with deps.read(request) as session:
        status = await merge_status(session, ctx, purpose, token)
        if status.applied:
            result = await _apply(session, ctx, purpose, token, None)
    if status.applied:
        return await _done_page(request, ctx, result)
    return _progress_page(request, ctx, status, _PATHS[purpose], token)


async def _apply(
    session: AsyncSession, ctx: ServiceContext, purpose: Purpose, token: str, plan: MergePlan | None
) -> ConfirmResult | ImportResult:
    if purpose == Purpose.CONFIRM:
        return await confirm(session, ctx, token, plan)
    return await add_import(session, ctx, token, plan)


async def _done_page(
    request: Request, ctx: ServiceContext, result: ConfirmResult | ImportResult
) -> Response:
    if isinstance(result, ConfirmResult):
        return await _confirmed_page(request, ctx, result)
    return deps.render(request, "added.html", {"result": result, "manage_url": None})


async def _button_page(request: Request, purpose: Purpose, token: str, template: str) -> Response:
    """The link's one button; the progress page instead once the worker has the import."""
    ctx = deps.context(request)
    async with deps.read(request) as session:
        status = await merge_status(session, ctx, purpose, token)
    if not status.applied and status.requested_at is not None:
        return _to_progress(token, _PATHS[purpose])
    action = f"/{_PATHS[purpose]}/{token}"
    return deps.render(request, template, {"action": action})


async def _handed_to_worker(
    request: Request, ctx: ServiceContext, purpose: Purpose, token: str
) -> bool:
    """Record the import for the worker when it is too big to merge here; whether it was."""
    async with deps.read(request) as session:
        status = await merge_status(session, ctx, purpose, token)
    if not for_the_worker(ctx, status):
        return False
    async with deps.transaction(request) as session:
        await request_merge(session, ctx, purpose, status)
    return True


def _to_progress(token: str, path: str) -> Response:
    return RedirectResponse(f"/{path}/{token}/importing", status_code=303)


def _progress_page(
    request: Request, ctx: ServiceContext, status: MergeStatus, path: str, token: str
) -> Response:
    """How far the worker has come; the failure it met (413) instead, if it could not."""
    if status.failure is not None:
        raise PayloadTooLarge(status.failure)
    if status.requested_at is None:  # never asked for: the button asks
        return RedirectResponse(f"/{path}/{token}", status_code=303)
    quiet = ctx.now - max(status.requested_at, status.progressed_at or status.requested_at)
    stalled = quiet >= STALLED
    total = status.total_chunks or max(1, math.ceil(status.highlight_count / MERGE_CHUNK))
    values = {
        "purpose": path,
        "highlight_count": status.highlight_count,
        "done": min(status.merged_chunks, total),
        "total": total,
        "stalled": stalled,
        "stalled_minutes": max(1, int(quiet.total_seconds() // 60)),
        "refresh_seconds": STALLED_REFRESH_SECONDS if stalled else REFRESH_SECONDS,
        "here": f"/{path}/{token}/importing",
    }
    return deps.render(request, "importing.html", values)


async def _confirmed_page(request: Request, ctx: ServiceContext, result: ConfirmResult) -> Response:
    # After the commit: the first digest exactly as the planner will choose it.
    preview = await next_digest(
        deps.runtime(request), result.subscriber_id, ctx.now, library_size=result.highlight_count
    )
    manage_url = ctx.links.email_manage_url(
        result.subscriber_id, result.link_generation, now=ctx.now
    )
    values = {"result": result, "preview": preview, "manage_url": manage_url}
    page = deps.render(request, "confirmed.html", values)
    reader_cookie.remember(request, page, result.subscriber_id)
    return page


async def _merge_in_chunks(
    request: Request, ctx: ServiceContext, purpose: Purpose, token: str
) -> MergePlan | None:
    """The import the link names, merged a chunk per transaction (subscriptions/merging.py):
    other requests take the write lock between chunks. None when it was applied already."""
    async with deps.read(request) as session:
        plan = await plan_merge(session, ctx, purpose, token)
    while plan is not None:
        async with deps.transaction(request) as session:
            if not await merge_next(session, ctx, plan):
                break
    return plan
