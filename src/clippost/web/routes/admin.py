"""The operator page, /admin: the figures of `clippost stats`, a chart of the last days,
failed and retrying messages with retry and cancel, and the suppressions.

Off (404 for every /admin address) unless `CLIPPOST_ADMIN_PASSWORD` is set. The password is
checked in a thread (a hash costs tens of milliseconds) after the login's own rate limit
(`admin.logins`: wrong passwords per client and for all clients, held in the database). A
right one gets a signed session cookie (`web.admin_session`). Every form carries the CSRF
token of the site's other forms; each action is one call to `admin.actions` in one
transaction, then a 303 back to the page with a fixed code saying what happened (never
text taken from the request).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import APIRouter
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from clippost import passwords
from clippost.admin import actions, dashboard, logins
from clippost.config import Settings
from clippost.errors import ClippostError, ConfigurationError, NotFound, RateLimited
from clippost.outbox.operator import NOTES
from clippost.stats.service import duration_text
from clippost.web import deps
from clippost.web.admin_session import AdminSessions, cookie_name
from clippost.web.chart import daily_chart

router = APIRouter()

_DONE = {
    "stopped": "No more mail of any kind goes to that address.",
    "allowed": "The suppression is lifted.",
    "not-suppressed": "That address was not suppressed.",
    "logged-out": "You are logged out.",
}


class NotLoggedIn(ClippostError):
    status_code = 403


@dataclass(frozen=True, slots=True)
class AdminAccess:
    password: str  # as configured: a plain value or a hash
    sessions: AdminSessions


def check_settings(settings: Settings) -> None:
    """ConfigurationError for a CLIPPOST_ADMIN_PASSWORD hash that cannot be checked: the
    start stops with the sentence (`create_app`), before anything serves."""
    if settings.admin_password is not None:
        try:
            passwords.check_configured(settings.admin_password.get_secret_value())
        except passwords.BadHash as exc:
            raise ConfigurationError(str(exc)) from exc


def admin_access(settings: Settings, secret_key: str) -> AdminAccess | None:
    """The page's state for the app (None: the page is off)."""
    if settings.admin_password is None:
        return None
    check_settings(settings)
    configured = settings.admin_password.get_secret_value()
    return AdminAccess(configured, AdminSessions(secret_key, configured))


@router.get("/admin")
async def admin_page(request: Request, done: str = "", id: int = 0) -> Response:
    access = _access(request)
    if not _logged_in(request, access):
        return deps.render(request, "admin/login.html", {"notice": _notice(done, id), "error": ""})
    board = await dashboard.load(deps.runtime(request).db, now=datetime.now(UTC))
    gauges = board.stats.gauges
    values = {
        "board": board,
        "chart": daily_chart(board.stats.days),
        "durations": {
            "oldest": duration_text(gauges.oldest_due_seconds),
            "lag": duration_text(gauges.planner_lag_seconds),
        },
        "notice": _notice(done, id),
    }
    return deps.render(request, "admin/dashboard.html", values)


@router.post("/admin/login")
async def admin_login(request: Request) -> Response:
    access = _access(request)
    form = await deps.read_form(request, limit=deps.SMALL_FORM_BYTES)
    given, client, now = deps.text_field(form, "password"), deps.client_ip(request), _now()
    allowed = deps.settings(request).admin_login_failures_per_hour
    async with deps.runtime(request).db.sessions() as session:
        if await logins.locked(session, client, allowed=allowed, now=now):
            raise RateLimited("Too many wrong passwords. Please try again in an hour.")
    if not await asyncio.to_thread(passwords.verify, access.password, given):
        async with deps.transaction(request) as session:
            await logins.failed(session, client, now=now)
        values = {"error": "That is not the operator password.", "notice": ""}
        return deps.render(request, "admin/login.html", values, status=403)
    response = RedirectResponse("/admin", status_code=303)
    cookie = access.sessions.set_cookie_header(
        access.sessions.issue(now=now), https=_https(request)
    )
    response.headers.append("set-cookie", cookie)
    return response


@router.post("/admin/logout")
async def admin_logout(request: Request) -> Response:
    _access(request)
    await deps.read_form(request, limit=deps.SMALL_FORM_BYTES)
    response = RedirectResponse("/admin?done=logged-out", status_code=303)
    response.headers.append("set-cookie", AdminSessions.clear_cookie_header(https=_https(request)))
    return response


@router.post("/admin/outbox/{row_id}/retry")
async def admin_retry(request: Request, row_id: int) -> Response:
    await _authorised_form(request)
    now = _now()
    async with deps.transaction(request) as session:
        (change,) = await actions.retry(session, [row_id], due_at=now, now=now)
    return _back(change.code, row_id=row_id)


@router.post("/admin/outbox/{row_id}/cancel")
async def admin_cancel(request: Request, row_id: int) -> Response:
    await _authorised_form(request)
    async with deps.transaction(request) as session:
        (change,) = await actions.cancel(session, [row_id], now=_now())
    return _back(change.code, row_id=row_id)


@router.post("/admin/suppressions")
async def admin_suppress(request: Request) -> Response:
    form = await _authorised_form(request)
    address, note = deps.text_field(form, "address"), deps.text_field(form, "note")
    async with deps.transaction(request) as session:
        await actions.stop_mail(session, address, note=note, now=_now())
    return _back("stopped")


@router.post("/admin/suppressions/remove")
async def admin_lift(request: Request) -> Response:
    form = await _authorised_form(request)
    address, hashed = deps.text_field(form, "address"), deps.text_field(form, "hash")
    async with deps.transaction(request) as session:
        if hashed:
            reason = await actions.allow_hash(session, hashed)
        else:
            reason = await actions.allow_mail(session, address)
    return _back("allowed" if reason else "not-suppressed")


def _access(request: Request) -> AdminAccess:
    access: AdminAccess | None = request.app.state.admin
    if access is None:
        raise NotFound("There is no page at this address.")
    return access


def _logged_in(request: Request, access: AdminAccess) -> bool:
    value = request.cookies.get(cookie_name(https=_https(request)))
    return access.sessions.valid(value, now=_now())


async def _authorised_form(request: Request) -> FormData:
    if not _logged_in(request, _access(request)):
        raise NotLoggedIn("Log in on the operator page first: your session has ended.")
    return await deps.read_form(request, limit=deps.SMALL_FORM_BYTES)


def _back(code: str, *, row_id: int = 0) -> Response:
    query = f"done={code}" + (f"&id={row_id}" if row_id else "")
    return RedirectResponse(f"/admin?{query}", status_code=303)


def _notice(done: str, row_id: int) -> str:
    """What the last action did, from its fixed code: nothing of the URL but the code
    and a message number is shown."""
    if done in NOTES:
        return f"Message {row_id}: {NOTES[done]}."
    return _DONE.get(done, "")


def _https(request: Request) -> bool:
    return deps.settings(request).base_url.startswith("https://")


def _now() -> datetime:
    return datetime.now(UTC)
