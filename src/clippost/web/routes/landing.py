"""The landing page, sign-up with an upload, and the one "check your inbox" page.

Sign-up answers the same for every address (invariant 8): a 303 to the same page, whether
the address was new, pending, confirmed or unsubscribed; the email says what applies. A
form that cannot be used comes back as the same page, each message beside its field and
what was typed still there (web/forms.py), with the status that says why.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from clippost.errors import ClippostError, PayloadTooLarge, RateLimited
from clippost.subscriptions.signup import sign_up
from clippost.web import deps, forms, limits
from clippost.web.choices import form_choices

router = APIRouter()

SIGNUP_FIELDS = ("email", *forms.PREFERENCE_FIELDS)
LABELS = {
    "email": "Your email address",
    "file": "Your highlights file",
    "cadence": "Send me an email",
    "hour": "Time of day",
    "weekday": "Day of the week",
    "day_of_month": "Day of the month",
    "timezone": "Your timezone",
    "per_email": "Highlights per email",
}


@router.api_route("/", methods=["GET", "HEAD"])  # HEAD: uptime checks of the home page
async def landing(request: Request) -> Response:
    return _landing(request, forms.FormState())


def _landing(request: Request, state: forms.FormState) -> Response:
    typed = {**forms.DEFAULTS_SHOWN, **{k: v for k, v in state.typed.items() if v}}
    values = {
        "choices": form_choices(),
        "max_mb": deps.settings(request).max_upload_mb,
        "typed": {"email": state.typed.get("email", ""), **typed},
        "errors": state.errors,
        "labels": LABELS,
    }
    page = deps.render(request, "landing.html", values, status=state.status if state else 200)
    return limits.retry_after(page, state.retry_after)


@router.post("/signup")
async def signup(request: Request) -> Response:
    """Counted before its body is read, and before its upload is parsed (web/limits.py);
    refused before its body is read, a few hundred bytes (`limits.refused_unread`)."""
    state = forms.FormState()
    try:
        await limits.client(request, "signup")
        form = await deps.read_form(request, limit=_body_limit(request))
    except (RateLimited, PayloadTooLarge) as error:
        return limits.refused_unread(error, back="/", back_to="the sign-up form")
    state.typed = forms.typed_values(form, SIGNUP_FIELDS)
    email = forms.email_error(state.typed, state)
    preferences = forms.preference_errors(state.typed, state, today=deps.today())
    if state or email is None or preferences is None:
        return _landing(request, state)
    try:
        admission = await limits.address(request, email)
    except RateLimited as error:
        state.add(forms.FORM, error)
        return _landing(request, state)
    try:
        library = await deps.uploaded_import(request, form)
    except ClippostError as error:
        await limits.give_back(request, admission)
        state.add("file", error)
        return _landing(request, state)
    ctx = deps.context(request)
    try:
        await deps.write(
            request,
            lambda session: sign_up(
                session, ctx, email=email, preferences=preferences, library=library
            ),
        )
    except PayloadTooLarge as error:  # parsed, but more than a pending import may keep
        state.add("file", error)
        return _landing(request, state)
    return RedirectResponse("/check-inbox", status_code=303)


def _body_limit(request: Request) -> int:
    return deps.settings(request).max_upload_bytes + deps.FORM_OVERHEAD_BYTES


@router.get("/check-inbox")
async def check_inbox(request: Request, sent: Literal["signup", "manage"] = "signup") -> Response:
    return deps.render(request, "check_inbox.html", {"sent": sent})
