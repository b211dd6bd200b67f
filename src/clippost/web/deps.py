"""What every route needs: the runtime, a service context, bounded form reading, uploads
parsed off the event loop (through `web.upload_parsers`), pages.

Routes stay thin: parse input with these helpers, call one service function inside
`transaction()`, return a page. The transaction commits when its block ends, before the
response is built, so a reader never sees a page for a change that was not stored.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.types import Message

from clippost.config import Settings
from clippost.context import ServiceContext
from clippost.db.writer import Work
from clippost.errors import BadInput, PayloadTooLarge
from clippost.library.upload import ImportLimits
from clippost.links import Links
from clippost.rendering.plaintext import plain
from clippost.runtime import Runtime
from clippost.subscriptions import pending
from clippost.web.choices import form_choices
from clippost.web.inbox import request_allowed
from clippost.web.security import CSRF_FIELD, CsrfTokens, csrf_cookie_name
from clippost.web.textmarks import mark_terms
from clippost.web.timefmt import local_datetime, local_hour, long_date, uses_12_hour
from clippost.web.upload_parsers import UploadParsers

log = logging.getLogger(__name__)
T = TypeVar("T")

TEMPLATES = Path(__file__).parent / "templates"
# Room for the form's text fields and multipart framing around an upload.
FORM_OVERHEAD_BYTES = 64 * 1024
# Forms without a file (preferences, buttons) never need more than this.
SMALL_FORM_BYTES = 16 * 1024


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
    env.filters["long_date"] = long_date
    env.filters["mark_terms"] = mark_terms
    # Where a reader's text cannot be isolated (<title>, <option>), its bidi controls go;
    # everywhere else it sits in <bdi> or an element with dir="auto".
    env.filters["plain"] = plain
    # The ~500 options of the timezone list, escaped once: every landing and manage page
    # carries them, and a refused sign-up (a flood of them, say) is that page again.
    env.globals["timezone_options"] = _timezone_options()
    return env


def _timezone_options() -> Markup:
    zones = form_choices().timezones
    return Markup("").join(Markup('<option value="{}">').format(zone) for zone in zones)


def runtime(request: Request) -> Runtime:
    value: Runtime = request.app.state.runtime
    return value


def settings(request: Request) -> Settings:
    return runtime(request).settings


def links(request: Request) -> Links:
    return runtime(request).links


def context(request: Request) -> ServiceContext:
    return runtime(request).context(datetime.now(UTC))


def today() -> date:
    """Today's date in UTC: what a form's dates (a pause) are measured from."""
    return datetime.now(UTC).date()


@asynccontextmanager
async def transaction(request: Request) -> AsyncIterator[AsyncSession]:
    async with runtime(request).db.transaction() as session:
        yield session


async def write(request: Request, work: Work[T]) -> T:
    """`await work(session)` in a write transaction of its own, committed before it returns
    (`Database.write`: on SQLite, run whole on the writer thread, so that a busy event loop
    neither slows it nor keeps the write lock held). For the small writes of requests any
    stranger can send; `work` uses its session and plain values only."""
    return await runtime(request).db.write(work)


@asynccontextmanager
async def read(request: Request) -> AsyncIterator[AsyncSession]:
    """A session for a page that only reads: it never waits for the write lock."""
    async with runtime(request).db.read() as session:
        yield session


def render(
    request: Request, template: str, values: dict[str, Any] | None = None, *, status: int = 200
) -> HTMLResponse:
    """A page: the template with the values every page uses (site name, CSRF token, the
    reader's clock, whether the local inbox is on)."""
    page = (
        _environment()
        .get_template(template)
        .render(
            site_name=settings(request).site_name,
            csrf_field=CSRF_FIELD,
            csrf_token=_csrf(request).token_for(request.state.csrf_cookie),
            twelve_hour=uses_12_hour(request.headers.get("accept-language")),
            dev_inbox=dev_inbox_open(request),
            **(values or {}),
        )
    )
    return HTMLResponse(page, status_code=status)


def dev_inbox_open(request: Request) -> bool:
    """Whether this request may see the local inbox (web/inbox.py says when)."""
    if not getattr(request.app.state, "dev_inbox", False):
        return False
    headers = {key.lower(): value for key, value in request.headers.items()}
    return request_allowed(request.client.host if request.client else None, headers)


def render_plain(template: str, values: dict[str, Any]) -> str:
    """A page body without a request (error pages rendered before the app has state)."""
    page = _environment().get_template(template)
    return page.render(csrf_field=CSRF_FIELD, twelve_hour=False, dev_inbox=False, **values)


def _csrf(request: Request) -> CsrfTokens:
    value: CsrfTokens = request.app.state.csrf
    return value


async def read_form(
    request: Request, *, limit: int, csrf: bool = True, max_fields: int = 32
) -> FormData:
    """The POSTed form, refused (413) past `limit` bytes, from Content-Length at once and
    while streaming; then the CSRF check unless the caller proves itself otherwise."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(request)
    bounded = Request(request.scope, _bounded_receive(request, limit))
    form = await bounded.form(max_files=1, max_fields=max_fields)
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


async def uploaded_import(request: Request, form: FormData) -> pending.EncodedLibrary:
    """The uploaded file, merged and encoded for a pending import (sign-up stores it as is).

    Encoding happens where the parsing does: what comes back is a blob and a few counts,
    cheaper to receive than the library itself.
    """
    data = await _uploaded_bytes(form)
    limit = settings(request).max_upload_bytes
    call = functools.partial(pending.prepare_upload, data, max_bytes=limit, limits=_limits(request))
    return await _parsers(request).run(call, size=len(data))


def _limits(request: Request) -> ImportLimits:
    values = settings(request)
    return ImportLimits(
        books=values.max_books_per_import, highlights=values.max_highlights_per_import
    )


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


def client_ip(request: Request) -> str:
    """The address rate limits count: the socket's peer, or the last X-Forwarded-For hop
    when the operator says a trusted proxy (which appends the real peer) is in front."""
    if settings(request).trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1][:64]
    return request.client.host if request.client else "unknown"
