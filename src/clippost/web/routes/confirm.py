"""Confirmation and add-highlights links: GET shows one button (link scanners that follow
every URL in an email change nothing); POST does it and shows what was imported."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from clippost.links import Purpose
from clippost.subscriptions.signup import add_import, confirm
from clippost.web import deps
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
    async with deps.transaction(request) as session:
        result = await confirm(session, ctx, token)
    # After the commit: the first digest exactly as the planner will choose it.
    preview = await next_digest(deps.runtime(request), result.subscriber_id, ctx.now)
    manage_url = ctx.links.email_manage_url(
        result.subscriber_id, result.link_generation, now=ctx.now
    )
    values = {"result": result, "preview": preview, "manage_url": manage_url}
    return deps.render(request, "confirmed.html", values)


@router.get("/add/{token}")
async def add_page(request: Request, token: str) -> Response:
    deps.links(request).read(Purpose.ADD_IMPORT, token, now=datetime.now(UTC))
    return deps.render(request, "add.html", {"action": f"/add/{token}"})


@router.post("/add/{token}")
async def add_submit(request: Request, token: str) -> Response:
    await deps.read_form(request, limit=deps.SMALL_FORM_BYTES)
    async with deps.transaction(request) as session:
        result = await add_import(session, deps.context(request), token)
    return deps.render(request, "added.html", {"result": result, "manage_url": None})
