"""The web app: `create_app(settings)` builds it; its lifespan opens the runtime.

Settings are passed in (tests build a fresh app per test). The lifespan opens the runtime
(database with migrations applied, links, renderer; a transport only with `with_worker`)
and the processes that parse uploads (`parse_processes`), and, with `with_worker`, runs
the worker as a task in the same process (the embedded default: one process serves pages
and sends mail) and stops it cleanly on shutdown: it stops claiming and finishes or
releases what it holds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles

from clippost.bounces.sns import SnsFetcher
from clippost.config import Settings
from clippost.db.base import utcnow
from clippost.errors import BadInput, ClippostError, InvalidLink
from clippost.metrics import GaugeCache
from clippost.runtime import Runtime, open_runtime
from clippost.site_state import record_server_base_url
from clippost.web import deps, limits
from clippost.web.access_log import AccessLogMiddleware
from clippost.web.inbox import inbox_enabled
from clippost.web.routes import (
    admin,
    confirm,
    devinbox,
    feedback,
    health,
    landing,
    library,
    manage,
    unsubscribe,
    webhooks,
)
from clippost.web.security import CsrfTokens, SecurityMiddleware, security_headers
from clippost.web.upload_parsers import UploadParsers
from clippost.worker import run_worker

log = logging.getLogger(__name__)

# How long shutdown waits for the in-process worker to finish what it holds.
WORKER_STOP_SECONDS = 30.0

_BACK_TO_FORM = "Go back to the page you came from and choose again."
_STATUS_HINTS = {
    404: "Check the address, or start again from the home page.",
    413: "Go back, choose a smaller file and try again.",
    415: "Upload My Clippings.txt from your Kindle, or the Kindle app's notebook export.",
}
# Links whose reader the manage-link form helps: a fresh manage link gets them in again.
# (A dead confirmation link is helped by signing up again: its page says so.)
_MANAGE_LINK_PATHS = (
    "/manage/",
    "/favourite/",
    "/discard/",
    "/passage/",
    "/unsubscribe/",
    "/resubscribe/",
)


def create_app(
    settings: Settings,
    *,
    with_worker: bool = False,
    bound_host: str | None = None,
    sns_fetcher: SnsFetcher | None = None,
) -> FastAPI:
    """The app; `bound_host` is the address `serve` listens on (the local inbox at
    /dev/inbox opens only on loopback, with the Maildir transport: web/inbox.py);
    `sns_fetcher`: where SNS certificates come from (tests serve them locally)."""
    admin.check_settings(settings)
    app = FastAPI(
        title=settings.site_name,
        lifespan=_lifespan(settings, with_worker=with_worker, sns_fetcher=sns_fetcher),
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    routers = (health, landing, confirm, manage, library, unsubscribe, feedback, devinbox)
    for module in (*routers, webhooks, admin):
        app.include_router(module.router)
    app.state.gauge_cache = GaugeCache(settings.metrics_cache_seconds)
    app.state.dev_inbox = inbox_enabled(settings, bound_host)
    app.state.page_loads = limits.PageLoads(settings.page_loads_per_client_per_minute)
    app.state.refusals = limits.Refusals()
    app.mount("/static", StaticFiles(directory=deps.TEMPLATES.parent / "static"), name="static")
    app.add_middleware(SecurityMiddleware, https=settings.base_url.startswith("https://"))
    app.add_middleware(AccessLogMiddleware)  # outermost: it sees what the client gets
    app.add_exception_handler(ClippostError, _clippost_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _server_error)
    return app


def _lifespan(
    settings: Settings, *, with_worker: bool, sns_fetcher: SnsFetcher | None
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with (
            open_runtime(settings, with_transport=with_worker) as runtime,
            _upload_parsers(settings) as parsers,
            webhooks.webhook_state(app, settings, sns_fetcher),
        ):
            app.state.runtime = runtime
            # Commands run from a shell compare their base URL with this (site_state.py).
            await record_server_base_url(runtime.db, settings.base_url, now=utcnow())
            app.state.csrf = CsrfTokens(runtime.secret_key)
            app.state.admin = admin.admin_access(settings, runtime.secret_key)
            app.state.parsers = parsers
            if not with_worker:
                yield
                return
            async with _worker(runtime):
                yield

    return lifespan


@asynccontextmanager
async def _upload_parsers(settings: Settings) -> AsyncIterator[UploadParsers]:
    parsers = UploadParsers(settings.parse_processes, queue_limit=settings.parse_queue)
    try:
        yield parsers
    finally:
        await parsers.aclose()


@asynccontextmanager
async def _worker(runtime: Runtime) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(runtime, stop), name="clippost-worker")
    task.add_done_callback(_report_worker_end)
    try:
        yield
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, timeout=WORKER_STOP_SECONDS)
        except TimeoutError:
            log.warning("the worker did not stop within %ss; cancelled", WORKER_STOP_SECONDS)


def _report_worker_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("the in-process worker stopped", exc_info=task.exception())


def _error_page(
    request: Request,
    status: int,
    message: str,
    hint: str = "",
    *,
    bad_link: bool = False,
    link_form: bool = False,
) -> Response:
    values = {
        "bad_link": bad_link,
        "status": status,
        "message": message,
        "hint": hint or _STATUS_HINTS.get(status, ""),
        "link_form": link_form,
    }
    if hasattr(request.app.state, "runtime"):
        return deps.render(request, "error.html", values, status=status)
    body = deps.render_plain("error.html", {"site_name": "clippost", "csrf_token": "", **values})
    return HTMLResponse(body, status_code=status)


async def _clippost_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, ClippostError):
        return await _server_error(request, exc)
    # A bad form value: the reader fixes it on the form they just left. Bad links and
    # refused forms carry their own advice in the message.
    hint = _BACK_TO_FORM if isinstance(exc, BadInput) else ""
    bad_link = isinstance(exc, InvalidLink)
    link_form = bad_link and request.url.path.startswith(_MANAGE_LINK_PATHS)
    page = _error_page(
        request, exc.status_code, exc.message, hint, bad_link=bad_link, link_form=link_form
    )
    return limits.retry_after(page, getattr(exc, "retry_after", None))


async def _http_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, HTTPException):
        return await _server_error(request, exc)
    messages = {404: "There is no page at this address.", 405: "This page cannot do that."}
    message = messages.get(exc.status_code, "This request could not be handled.")
    return _error_page(request, exc.status_code, message)


async def _validation_error(request: Request, exc: Exception) -> Response:
    return _error_page(request, 400, "Part of this address or form is not valid.")


async def _server_error(request: Request, exc: Exception) -> Response:
    # The one page that says nothing specific: details stay in the server's log. It is sent
    # from outside the middleware stack, so it carries the security headers itself.
    headers = security_headers(https=request.url.scheme == "https")
    headers["Cache-Control"] = "no-store"
    return HTMLResponse(
        "<!doctype html><title>Server error</title><h1>Something went wrong on our side</h1>"
        "<p>Nothing was changed. Please try again in a few minutes.</p>",
        status_code=500,
        headers=headers,
    )
