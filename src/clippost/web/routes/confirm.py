"""Confirmation and add-highlights links: GET shows one button (link scanners that follow
every URL in an email change nothing); POST does it and shows what was imported. A big
import is merged a chunk per transaction before the one that applies it, so no other
request waits for the whole merge."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from clippost.context import ServiceContext
from clippost.links import Purpose
from clippost.subscriptions.merging import MergePlan, merge_next, plan_merge
from clippost.subscriptions.signup import add_import, confirm
from clippost.web import deps, reader_cookie
from clippost.web.previews import next_digest

router = APIRouter()


@router.get("/confirm/{token}")
async def confirm_page(request: Request, token: str) -> Response:
    deps.links(request).read(Purpose.CONFIRM, token, now=datetime.now(UTC))
    return deps.render(request, "confirm.html", {"action": f"/confirm/{token}"})


@router.post("/confirm/{token}")
async def confirm_submit(request: Request, token: str) -> Response:
    await deps.read_form(request, limit=deps.SMALL_FORM_BYTES)
    ctx = deps.context(request)
    plan = await _merge_in_chunks(request, ctx, Purpose.CONFIRM, token)
    async with deps.transaction(request) as session:
        result = await confirm(session, ctx, token, plan)
    # After the commit: the first digest exactly as the planner will choose it.
    preview = await next_digest(deps.runtime(request), result.subscriber_id, ctx.now)
    manage_url = ctx.links.email_manage_url(
        result.subscriber_id, result.link_generation, now=ctx.now
    )
    values = {"result": result, "preview": preview, "manage_url": manage_url}
    page = deps.render(request, "confirmed.html", values)
    reader_cookie.remember(request, page, result.subscriber_id)
    return page


@router.get("/add/{token}")
async def add_page(request: Request, token: str) -> Response:
    deps.links(request).read(Purpose.ADD_IMPORT, token, now=datetime.now(UTC))
    return deps.render(request, "add.html", {"action": f"/add/{token}"})


@router.post("/add/{token}")
async def add_submit(request: Request, token: str) -> Response:
    await deps.read_form(request, limit=deps.SMALL_FORM_BYTES)
    ctx = deps.context(request)
    plan = await _merge_in_chunks(request, ctx, Purpose.ADD_IMPORT, token)
    async with deps.transaction(request) as session:
        result = await add_import(session, ctx, token, plan)
    return deps.render(request, "added.html", {"result": result, "manage_url": None})


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
