"""Limits before work: what a request is counted under, before the work it would cost is
done.

A sign-up is counted against its client's network before its body is read, and against its
address before its upload is parsed, each in a transaction of its own, so a refused request
costs a single upsert, whatever it carries. Those transactions run whole on the database's
writer thread (`deps.write`): a flood of refused requests costs the event loop one round
trip each, and holds the write lock only while SQLite works. An upload refused afterwards
gives its address count back (no email follows). Page loads of a reader's library (the
manage page, its searches) are counted per client network in this process's memory
(`PageLoads`): a page of a big library costs tens of milliseconds of the event loop, and
reloading it without end must not take the loop from everyone else; a write per page view
would cost more than the page.

A refusal costs next to nothing to send, whatever it refuses: a page load past its limit,
and an upload refused before its body was read (`refused_unread`), are answered with a few
hundred bytes and no template, not with the page the form was on (the sign-up form was
a millisecond of the event loop and 24 KB to send for every one of a flood of 12 MB uploads;
a manage page's upload form, the whole manage page). Nothing of the body was read, so
that page had nothing the sender typed to give back anyway.
"""

from __future__ import annotations

import html
import time
from collections import OrderedDict
from datetime import datetime, timedelta

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from clippost.addresses import client_network
from clippost.errors import ClippostError, RateLimited
from clippost.subscriptions import ratelimit
from clippost.subscriptions.common import Admission, admit_address, client_limit, refund
from clippost.web import deps
from clippost.web.reader_cookie import reader_of

__all__ = [
    "Admission",
    "PageLoads",
    "Refusals",
    "address",
    "body_unread",
    "client",
    "give_back",
    "page_load",
    "refused_unread",
    "retry_after",
]

# Client networks remembered at most; the least recently seen go first.
_TRACKED_CLIENTS = 10_000


async def client(request: Request, action: str) -> None:
    """Count one `action` from the request's client; RateLimited past the limit.

    A client refused once is refused from memory until its window ends (`Refusals`),
    without the write lock: a refused count rolls back, so counting it again in the
    database changed nothing but held every other writer up (measured under attack,
    bench/web.py: two thirds of the web's write transactions were refusals of a flood)."""
    ctx, client_ip = deps.context(request), deps.client_ip(request)
    limit = client_limit(ctx, action, client_ip)
    refusals: Refusals = request.app.state.refusals
    if (retry_at := refusals.until(limit.key, now=ctx.now)) is not None:
        raise ratelimit.refusal(limit, retry_at=retry_at, now=ctx.now)
    try:
        await deps.write(request, lambda session: ratelimit.hit(session, limit, now=ctx.now))
    except RateLimited as refused:
        if refused.retry_after is not None:
            refusals.remember(limit.key, ctx.now + timedelta(seconds=refused.retry_after))
        raise


async def address(request: Request, email: str) -> Admission:
    """Count one email to `email`, under the owner's allowance when this browser is
    theirs; RateLimited past the limit."""
    ctx, reader = deps.context(request), reader_of(request)
    return await deps.write(
        request, lambda session: admit_address(session, ctx, email, browser_reader=reader)
    )


async def give_back(request: Request, admission: Admission) -> None:
    ctx = deps.context(request)
    await deps.write(request, lambda session: refund(session, ctx, admission))


def body_unread(response: Response) -> Response:
    """`response` to a request refused before its body was read: the connection closes
    after it, so the rest of the body (12 MB, say) is never received and thrown away."""
    response.headers["Connection"] = "close"
    return response


def refused_unread(error: ClippostError, *, back: str, back_to: str) -> Response:
    """The answer to an upload refused before its body was read (its client over the
    limit, a body larger than allowed): the refusal's sentence and a link back to the form
    (`back`, the page called `back_to`), a few hundred bytes, no template, no database, and
    the connection closed after it (`body_unread`)."""
    body = _REFUSED_UPLOAD.format(
        message=html.escape(error.message),
        back=html.escape(back, quote=True),
        back_to=html.escape(back_to),
    )
    page = HTMLResponse(body, status_code=error.status_code)
    page.headers["Cache-Control"] = "no-store"
    return body_unread(retry_after(page, getattr(error, "retry_after", None)))


def retry_after(response: Response, seconds: int | None) -> Response:
    """`response` with a Retry-After header when the refusal says when to come back."""
    if seconds is not None:
        response.headers["Retry-After"] = str(seconds)
    return response


class Refusals:
    """Limits already refused, by key, until their window ends; the oldest forgotten
    first past `_TRACKED_CLIENTS` keys. Each process keeps its own: another process (or
    this one, once it forgot) asks the database, which refuses the same."""

    def __init__(self) -> None:
        self._until: OrderedDict[str, datetime] = OrderedDict()

    def until(self, key: str, *, now: datetime) -> datetime | None:
        retry_at = self._until.get(key)
        if retry_at is None:
            return None
        if retry_at <= now:
            del self._until[key]
            return None
        return retry_at

    def remember(self, key: str, retry_at: datetime) -> None:
        self._until[key] = retry_at
        self._until.move_to_end(key)
        while len(self._until) > _TRACKED_CLIENTS:
            self._until.popitem(last=False)


class PageLoads:
    """Token buckets per client network: `per_minute` page loads, in bursts of up to a
    quarter of that (at least 10); past them, RateLimited with the seconds to wait."""

    def __init__(self, per_minute: int) -> None:
        self._rate = per_minute / 60
        self._burst = max(10.0, per_minute / 4)
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, client: str, *, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        key = client_network(client)
        tokens, then = self._buckets.pop(key, (self._burst, now))
        tokens = min(self._burst, tokens + (now - then) * self._rate)
        if tokens < 1:
            self._remember(key, tokens, now)
            wait = int((1 - tokens) / self._rate) + 1
            raise RateLimited(
                f"This page was loaded too often from your network. Please wait {wait} "
                f"second{'s' if wait != 1 else ''} and reload it.",
                retry_after=wait,
            )
        self._remember(key, tokens - 1, now)

    def _remember(self, key: str, tokens: float, now: float) -> None:
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > _TRACKED_CLIENTS:
            self._buckets.popitem(last=False)


def page_load(request: Request) -> Response | None:
    """Count one load of a library page from the request's client; past the limit, the
    refusal to send instead of the page: a few hundred bytes, no template, no database, so
    that refusing costs next to nothing however often it is asked."""
    loads: PageLoads = request.app.state.page_loads
    try:
        loads.take(deps.client_ip(request))
    except RateLimited as refused:
        body = _REFUSED_PAGE.format(message=html.escape(refused.message))
        page = HTMLResponse(body, status_code=refused.status_code)
        page.headers["Cache-Control"] = "no-store"
        return retry_after(page, refused.retry_after)
    return None


_REFUSED_UPLOAD = (
    '<!doctype html><html lang="en"><meta charset="utf-8"><title>Nothing was stored</title>'
    "<h1>Nothing was stored</h1><p>{message}</p>"
    '<p><a href="{back}">Back to {back_to}</a></p></html>'
)
_REFUSED_PAGE = (
    '<!doctype html><html lang="en"><meta charset="utf-8"><title>Please wait</title>'
    "<h1>Please wait a moment</h1><p>{message}</p></html>"
)
