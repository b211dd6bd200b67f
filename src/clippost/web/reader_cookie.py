"""The reader's own browser: a signed cookie set where the reader proves who they are (a
manage link opened, an address confirmed), so that their own requests for emails have an
allowance strangers cannot use up (subscriptions/common.py `limit_address`).

The cookie names the subscriber's id under a purpose of its own (a manage or confirm token
cannot stand in for it, nor it for them); it grants nothing else: every page still needs its
link. HttpOnly, SameSite=Lax, Secure and `__Host-` on https.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response

from clippost.errors import InvalidLink
from clippost.links import Purpose
from clippost.web import deps

LIFETIME = timedelta(days=365)


def cookie_name(*, https: bool) -> str:
    return "__Host-clippost_reader" if https else "clippost_reader"


def remember(request: Request, response: Response, subscriber_id: int) -> None:
    """Mark this browser as `subscriber_id`'s own, for a year."""
    https = deps.settings(request).base_url.startswith("https://")
    token = deps.links(request).token(
        Purpose.READER, subscriber_id, now=datetime.now(UTC), ttl=LIFETIME
    )
    response.set_cookie(
        cookie_name(https=https),
        token,
        max_age=int(LIFETIME.total_seconds()),
        path="/",
        secure=https,
        httponly=True,
        samesite="lax",
    )


def reader_of(request: Request) -> int | None:
    """The subscriber whose browser this is, by its cookie; None without a genuine one."""
    https = deps.settings(request).base_url.startswith("https://")
    token = request.cookies.get(cookie_name(https=https))
    if not token or len(token) > 512:
        return None
    try:
        data = deps.links(request).read(Purpose.READER, token, now=datetime.now(UTC))
    except InvalidLink:
        return None
    return int(data.subject) if data.subject.isdigit() and len(data.subject) < 19 else None
