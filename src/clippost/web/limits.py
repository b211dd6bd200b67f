"""Limits before work: what a request is counted under, each in a transaction of its own,
before the work it would cost is done.

A sign-up is counted against its client's network before its body is read, and against its
address before its upload is parsed, so a refused request costs a single upsert, whatever
it carries. An upload refused afterwards gives its address count back (no email follows).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from clippost.subscriptions.common import Admission, admit_address, limit_client, refund
from clippost.web import deps
from clippost.web.reader_cookie import reader_of

__all__ = ["Admission", "address", "client", "give_back", "retry_after"]


async def client(request: Request, action: str) -> None:
    """Count one `action` from the request's client; RateLimited past the limit."""
    async with deps.transaction(request) as session:
        await limit_client(session, deps.context(request), action, deps.client_ip(request))


async def address(request: Request, email: str) -> Admission:
    """Count one email to `email`, under the owner's allowance when this browser is
    theirs; RateLimited past the limit."""
    async with deps.transaction(request) as session:
        return await admit_address(
            session, deps.context(request), email, browser_reader=reader_of(request)
        )


async def give_back(request: Request, admission: Admission) -> None:
    async with deps.transaction(request) as session:
        await refund(session, deps.context(request), admission)


def retry_after(response: Response, seconds: int | None) -> Response:
    """`response` with a Retry-After header when the refusal says when to come back."""
    if seconds is not None:
        response.headers["Retry-After"] = str(seconds)
    return response
