"""The manage page, reached by a magic link: preferences, language, links, erase.

Every action re-reads the subscriber from the manage token (signed, expiring, naming the
link generation), then calls the one service function for the action, in one transaction.
Actions that succeed answer with a 303 back to the section they changed, where the notice
is shown (reloading never repeats them); a refused form is the page again, the message
beside the field (web/manage_page.py). The library's own actions are in routes/library.py.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from clippost.db.base import row_id
from clippost.errors import RateLimited
from clippost.subscriptions.manage import (
    erase,
    request_manage_link,
    resubscribe,
    set_language,
    sign_out_links,
    subscriber_from_manage_token,
    update_preferences,
)
from clippost.web import deps, forms, limits
from clippost.web.manage_page import Listing, Refused, manage_page
from clippost.web.reader_cookie import reader_of

router = APIRouter()

PREFERENCE_FORM = (*forms.PREFERENCE_FIELDS, "locale")


@router.get("/manage")
async def manage_request_page(request: Request) -> Response:
    return deps.render(request, "manage_request.html", {"errors": {}, "typed": {}})


@router.post("/manage")
async def manage_request_submit(request: Request) -> Response:
    form = await deps.read_form(request, limit=deps.SMALL_FORM_BYTES)
    state = forms.FormState(typed=forms.typed_values(form, ("email",)))
    email = forms.email_error(state.typed, state)
    if email is not None:
        try:
            async with deps.transaction(request) as session:
                await request_manage_link(
                    session,
                    deps.context(request),
                    email=email,
                    client_ip=deps.client_ip(request),
                    browser_reader=reader_of(request),
                )
        except RateLimited as error:
            state.add(forms.FORM, error)
    if state:
        values = {"errors": state.errors, "typed": state.typed}
        return deps.render(request, "manage_request.html", values, status=state.status)
    return RedirectResponse("/check-inbox?sent=manage", status_code=303)


@router.get("/manage/{token}")
async def manage(
    request: Request,
    token: str,
    q: str = "",
    book: str = "",
    show: str = "",
    offset: str = "",
    done: str = "",
    h: str = "",
    books: str = "",
) -> Response:
    if (refused := limits.page_load(request)) is not None:
        return refused
    listing = Listing.parse(q, book, show, offset, books)
    acted_on = row_id(h)
    return await manage_page(request, token, listing, done=done, acted_on=acted_on)


@router.post("/manage/{token}/preferences")
async def save_preferences(request: Request, token: str) -> Response:
    form = await deps.read_form(request, limit=deps.SMALL_FORM_BYTES)
    refused = Refused("preferences", forms.FormState(forms.typed_values(form, PREFERENCE_FORM)))
    preferences = forms.preference_errors(refused.state.typed, refused.state, today=deps.today())
    locale = forms.locale_error(refused.state.typed, refused.state)
    if preferences is None or refused.state:
        return await manage_page(request, token, Listing(), refused=refused)
    async with deps.transaction(request) as session:
        ctx = deps.context(request)
        subscriber = await subscriber_from_manage_token(session, ctx, token)
        await update_preferences(session, ctx, subscriber.id, preferences)
        await set_language(session, subscriber.id, locale)
    return back(token, done="preferences", anchor="preferences")


@router.post("/manage/{token}/erase")
async def erase_everything(request: Request, token: str) -> Response:
    form = await deps.read_form(request, limit=deps.SMALL_FORM_BYTES)
    typed = forms.typed_values(form, ("confirm", "never_email_again"))
    if typed["confirm"] != "yes":
        refused = Refused("erase", forms.FormState(typed))
        refused.state.errors["confirm"] = (
            "Nothing was erased: tick the box that confirms you want to erase everything, "
            "then press the button again."
        )
        return await manage_page(request, token, Listing(), refused=refused)
    never_again = typed["never_email_again"] == "yes"
    async with deps.transaction(request) as session:
        ctx = deps.context(request)
        subscriber = await subscriber_from_manage_token(session, ctx, token)
        await erase(session, ctx, subscriber.id, never_email_again=never_again)
    return deps.render(request, "erased.html", {"never_again": never_again})


@router.post("/manage/{token}/sign-out")
async def sign_out_everywhere(request: Request, token: str) -> Response:
    await deps.read_form(request, limit=deps.SMALL_FORM_BYTES)
    async with deps.transaction(request) as session:
        subscriber = await subscriber_from_manage_token(session, deps.context(request), token)
        await sign_out_links(session, subscriber.id)
    return deps.render(request, "signed_out.html", {"errors": {}, "typed": {}})


@router.post("/manage/{token}/resubscribe")
async def resubscribe_submit(request: Request, token: str) -> Response:
    await deps.read_form(request, limit=deps.SMALL_FORM_BYTES)
    async with deps.transaction(request) as session:
        ctx = deps.context(request)
        subscriber = await subscriber_from_manage_token(session, ctx, token)
        await resubscribe(session, ctx, subscriber.id)
    return back(token, done="resubscribed", anchor="status")


def back(
    token: str, *, done: str, anchor: str, listing: Listing | None = None, **extra: str
) -> Response:
    """A 303 to the manage page's section `anchor`, where the `done` notice shows."""
    query = urlencode((listing or Listing()).params(done=done, **extra))
    return RedirectResponse(f"/manage/{token}?{query}#{anchor}", status_code=303)
