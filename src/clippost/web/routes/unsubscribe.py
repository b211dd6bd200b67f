"""Unsubscribe links: GET shows one button; POST unsubscribes at once.

The same URL takes the RFC 8058 one-click POST that mail providers send from the
`List-Unsubscribe-Post` header: body `List-Unsubscribe=One-Click`, no cookies, so no CSRF
token; the signed, purpose-scoped URL is the proof. It answers 200 with a short text, never
a redirect (providers do not follow one).

Providers send these in bursts (a digest goes out, a share of readers leave), so the POST
goes through the database's group commit: unsubscribes arriving together share one write
transaction. The answer is still sent only after the transaction holding this reader's
change has committed.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from clippost.links import Purpose
from clippost.subscriptions.manage import resubscribe_by_link, unsubscribe_all, unsubscription
from clippost.web import deps
from clippost.web.manage_page import resubscribe_token

router = APIRouter()


@router.get("/unsubscribe/{token}")
async def unsubscribe_page(request: Request, token: str) -> Response:
    deps.links(request).read(Purpose.UNSUBSCRIBE, token, now=datetime.now(UTC))
    return deps.render(request, "unsubscribe.html", {"action": f"/unsubscribe/{token}"})


@router.post("/unsubscribe/{token}")
async def unsubscribe_submit(request: Request, token: str) -> Response:
    form = await deps.read_form(request, limit=deps.SMALL_FORM_BYTES, csrf=False)
    one_click = form.get("List-Unsubscribe") == "One-Click"
    if not one_click:
        deps.check_csrf(request, form)
    leaving = unsubscription(deps.context(request), token)  # a bad link stops here: 400
    await deps.runtime(request).db.commit_together(unsubscribe_all, leaving)
    if one_click:
        return PlainTextResponse("You are unsubscribed.\n")
    way_back = f"/resubscribe/{resubscribe_token(request, leaving.subscriber_id)}"
    return deps.render(request, "unsubscribed.html", {"resubscribe_action": way_back})


@router.get("/resubscribe/{token}")
async def resubscribe_page(request: Request, token: str) -> Response:
    deps.links(request).read(Purpose.RESUBSCRIBE, token, now=datetime.now(UTC))
    return deps.render(request, "resubscribe.html", {"action": f"/resubscribe/{token}"})


@router.post("/resubscribe/{token}")
async def resubscribe_submit(request: Request, token: str) -> Response:
    await deps.read_form(request, limit=deps.SMALL_FORM_BYTES)
    async with deps.transaction(request) as session:
        subscriber = await resubscribe_by_link(session, deps.context(request), token)
    return deps.render(request, "resubscribed.html", {"subscriber": subscriber})
