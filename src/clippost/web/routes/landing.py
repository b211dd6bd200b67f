"""The landing page, sign-up with an upload, and the one "check your inbox" page.

Sign-up answers the same for every address (invariant 8): a 303 to the same page, whether
the address was new, pending, confirmed or unsubscribed; the email says what applies.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from clippost.addresses import normalise_email
from clippost.subscriptions.signup import sign_up
from clippost.web import deps
from clippost.web.choices import form_choices

router = APIRouter()


@router.api_route("/", methods=["GET", "HEAD"])  # HEAD: uptime checks of the home page
async def landing(request: Request) -> Response:
    settings = deps.settings(request)
    return deps.render(
        request, "landing.html", {"choices": form_choices(), "max_mb": settings.max_upload_mb}
    )


@router.post("/signup")
async def signup(request: Request) -> Response:
    limit = deps.settings(request).max_upload_bytes + deps.FORM_OVERHEAD_BYTES
    form = await deps.read_form(request, limit=limit)
    email = normalise_email(deps.text_field(form, "email"))
    preferences = deps.preferences(form)
    library = await deps.uploaded_import(request, form)
    async with deps.transaction(request) as session:
        await sign_up(
            session,
            deps.context(request),
            email=email,
            preferences=preferences,
            library=library,
            client_ip=deps.client_ip(request),
        )
    return RedirectResponse("/check-inbox", status_code=303)


@router.get("/check-inbox")
async def check_inbox(request: Request, sent: Literal["signup", "manage"] = "signup") -> Response:
    return deps.render(request, "check_inbox.html", {"sent": sent})
