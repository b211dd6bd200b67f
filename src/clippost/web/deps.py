"""What every route needs: the runtime, a service context, bounded form reading, uploads
parsed off the event loop (`UploadParsers`), pages.

Routes stay thin: parse input with these helpers, call one service function inside
`transaction()`, return a page. The transaction commits when its block ends, before the
response is built, so a reader never sees a page for a change that was not stored.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import multiprocessing
import signal
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.types import Message

from clippost.clippings.models import Library
from clippost.config import Settings
from clippost.errors import BadInput, PayloadTooLarge
from clippost.library.upload import parse_upload
from clippost.links import Links
from clippost.runtime import Runtime
from clippost.subscriptions import pending
from clippost.subscriptions.service import Preferences, ServiceContext
from clippost.web.security import CSRF_FIELD, CsrfTokens, csrf_cookie_name
from clippost.web.timefmt import local_datetime, local_hour

log = logging.getLogger(__name__)
T = TypeVar("T")

TEMPLATES = Path(__file__).parent / "templates"
# Room for the form's text fields and multipart framing around an upload.
FORM_OVERHEAD_BYTES = 64 * 1024
# Forms without a file (preferences, buttons) never need more than this.
SMALL_FORM_BYTES = 16 * 1024
PREFERENCE_FIELDS = (
    "cadence",
    "hour",
    "weekday",
    "day_of_month",
    "timezone",
    "per_email",
    "paused_until",
)


@functools.cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,  # every page: nothing a reader uploaded can become markup
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["local_datetime"] = local_datetime
    env.filters["local_hour"] = local_hour
    return env


def runtime(request: Request) -> Runtime:
    value: Runtime = request.app.state.runtime
    return value


def settings(request: Request) -> Settings:
    return runtime(request).settings


def links(request: Request) -> Links:
    value: Links = request.app.state.links
    return value


def context(request: Request) -> ServiceContext:
    return ServiceContext(settings=settings(request), links=links(request), now=datetime.now(UTC))


@asynccontextmanager
async def transaction(request: Request) -> AsyncIterator[AsyncSession]:
    async with runtime(request).db.transaction() as session:
        yield session


def render(
    request: Request, template: str, values: dict[str, Any] | None = None, *, status: int = 200
) -> HTMLResponse:
    """A page: the template with the values every page uses (site name, CSRF token)."""
    page = (
        _environment()
        .get_template(template)
        .render(
            site_name=settings(request).site_name,
            csrf_field=CSRF_FIELD,
            csrf_token=_csrf(request).token_for(request.state.csrf_cookie),
            **(values or {}),
        )
    )
    return HTMLResponse(page, status_code=status)


def render_plain(template: str, values: dict[str, Any]) -> str:
    """A page body without a request (error pages rendered before the app has state)."""
    return _environment().get_template(template).render(csrf_field=CSRF_FIELD, **values)


def _csrf(request: Request) -> CsrfTokens:
    value: CsrfTokens = request.app.state.csrf
    return value


async def read_form(request: Request, *, limit: int, csrf: bool = True) -> FormData:
    """The POSTed form, refused (413) past `limit` bytes, from Content-Length at once and
    while streaming; then the CSRF check unless the caller proves itself otherwise."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(request)
    bounded = Request(request.scope, _bounded_receive(request, limit))
    form = await bounded.form(max_files=1, max_fields=32)
    if csrf:
        check_csrf(request, form)
    return form


def check_csrf(request: Request, form: FormData) -> None:
    cookie = request.cookies.get(csrf_cookie_name(https=_https(request)))
    submitted = form.get(CSRF_FIELD)
    _csrf(request).verify(cookie, submitted if isinstance(submitted, str) else None)


def _https(request: Request) -> bool:
    return settings(request).base_url.startswith("https://")


def _bounded_receive(request: Request, limit: int) -> Any:
    received = 0

    async def receive() -> Message:
        nonlocal received
        message = await request.receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise _too_large(request)
        return message

    return receive


def _too_large(request: Request) -> PayloadTooLarge:
    mb = settings(request).max_upload_mb
    return PayloadTooLarge(
        f"That file is too large: the limit is {mb:g} MB. Export fewer books, or split the "
        "file, and upload each part."
    )


def text_field(form: FormData, name: str) -> str:
    """A text field's value; a missing one is empty, a file sent in its place is refused."""
    value = form.get(name, "")
    if not isinstance(value, str):
        raise BadInput(f"The field {name!r} must be text, not a file.")
    return value


def preferences(form: FormData) -> Preferences:
    return Preferences.from_form({name: text_field(form, name) for name in PREFERENCE_FIELDS})


async def uploaded_library(request: Request, form: FormData) -> Library:
    """The uploaded file as a merged library (the manage page merges it at once)."""
    data = await _uploaded_bytes(form)
    limit = settings(request).max_upload_bytes
    return await _parsers(request).run(functools.partial(parse_upload, data, max_bytes=limit))


async def uploaded_import(request: Request, form: FormData) -> pending.EncodedLibrary:
    """The uploaded file, merged and encoded for a pending import (sign-up stores it as is).

    Encoding happens where the parsing does: what comes back is a blob and a few counts,
    cheaper to receive than the library itself.
    """
    data = await _uploaded_bytes(form)
    limit = settings(request).max_upload_bytes
    call = functools.partial(pending.prepare_upload, data, max_bytes=limit)
    return await _parsers(request).run(call)


def _parsers(request: Request) -> UploadParsers:
    value: UploadParsers = request.app.state.parsers
    return value


async def _uploaded_bytes(form: FormData) -> bytes:
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise BadInput(
            "Choose your highlights file (My Clippings.txt, or the Kindle app's notebook "
            "export) and try again."
        )
    try:
        data = await upload.read()
    finally:
        await upload.close()  # its spooled temporary file goes now, not at garbage collection
    return data


class UploadParsers:
    """Where uploads are parsed: a few worker processes, or a thread of this one.

    Parsing is pure Python, so in a thread the GIL still serialises it with everything the
    event loop does; in processes it runs on the other cores and the loop stays free. The
    processes start when the first upload arrives (an app that takes none starts none), from
    a fork server that has imported the import engine already. Where processes cannot be
    had (`processes=0`, a platform or sandbox without them, a pool broken by a killed
    worker), the upload is parsed in a thread instead: slower under load, never refused.
    """

    def __init__(self, processes: int) -> None:
        self._processes = processes
        self._pool = self._new_pool()
        self._pool_worked = False  # a pool that breaks before any result is not replaced

    @property
    def uses_processes(self) -> bool:
        return self._pool is not None

    @property
    def process_ids(self) -> list[int]:
        """The worker processes started so far (they start with the first upload)."""
        pool = self._pool
        return [] if pool is None else sorted(pool._processes or {})

    async def run(self, call: Callable[[], T]) -> T:
        """`call()` off the event loop: a module-level function (a process gets it by name)
        with its arguments bound; what it raises (a ClippostError for a refused upload)
        is raised here."""
        pool = self._pool
        if pool is not None:
            try:
                result = await asyncio.wrap_future(pool.submit(call))
            except (BrokenProcessPool, OSError) as exc:
                # Raised by the pool, never by the call (pure code: it raises only
                # ClippostError): a worker was killed, or processes could not be started.
                log.warning("upload parsing process unavailable (%s); parsing in a thread", exc)
                self._replace(pool)
            else:
                self._pool_worked = True
                return result
        return await anyio.to_thread.run_sync(call)

    async def aclose(self) -> None:
        """Stop the processes (an upload still being parsed is waited for)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await anyio.to_thread.run_sync(functools.partial(pool.shutdown, cancel_futures=True))

    def _new_pool(self) -> ProcessPoolExecutor | None:
        if self._processes < 1:
            return None
        try:
            # The workers ignore Ctrl-C (sent to the whole process group): stopping them is
            # the web process's job, at shutdown, without a traceback from each.
            return ProcessPoolExecutor(
                self._processes,
                mp_context=_process_context(),
                initializer=signal.signal,
                initargs=(signal.SIGINT, signal.SIG_IGN),
            )
        except (OSError, NotImplementedError, ValueError) as exc:
            log.warning("no processes to parse uploads (%s); parsing in a thread", exc)
            return None

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        """A new pool for one whose worker died; none if processes never worked here."""
        if self._pool is not broken:
            return  # another request that saw it break has replaced it already
        broken.shutdown(wait=False, cancel_futures=True)
        self._pool = self._new_pool() if self._pool_worked else None
        self._pool_worked = False


def _process_context() -> BaseContext:
    """A fork server where there is one: forking this process itself would copy the locks
    its other threads (database, worker) may hold; spawning re-imports clippost each time."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["clippost.subscriptions.pending"])
    return context


def client_ip(request: Request) -> str:
    """The address rate limits count: the socket's peer, or the last X-Forwarded-For hop
    when the operator says a trusted proxy (which appends the real peer) is in front."""
    if settings(request).trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1][:64]
    return request.client.host if request.client else "unknown"
