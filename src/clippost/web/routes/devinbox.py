"""`/dev/inbox`: the local inbox, for a developer running clippost on their machine.

Every route answers 404 unless web/inbox.py allows it (Maildir transport, loopback server,
loopback public URL, a loopback request without proxy headers). The HTML part of an email
is served alone, under a CSP of its own that runs no script and loads nothing, and shown in
a sandboxed frame; its links are listed from the text part, where they can be followed.
"""

from __future__ import annotations

import re

from fastapi import APIRouter
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from clippost.web import deps
from clippost.web.inbox import Inbox

router = APIRouter()

# The email's own HTML: its inline styles, data: images, nothing else; framed only by us.
EMAIL_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
)
_URL = re.compile(r"https?://[^\s<>\"]+")


def _inbox(request: Request) -> Inbox:
    if not deps.dev_inbox_open(request):
        raise HTTPException(404)
    return Inbox(deps.settings(request).resolved_maildir)


@router.get("/dev/inbox")
async def inbox(request: Request) -> Response:
    messages = _inbox(request).newest()
    folder = deps.settings(request).resolved_maildir
    return deps.render(request, "dev_inbox.html", {"messages": messages, "folder": folder})


@router.get("/dev/inbox/{name}")
async def message(request: Request, name: str) -> Response:
    shown = _inbox(request).message(name)
    if shown is None:
        raise HTTPException(404)
    links = list(dict.fromkeys(url.rstrip(".,)") for url in _URL.findall(shown.text)))
    return deps.render(request, "dev_message.html", {"message": shown, "links": links})


@router.get("/dev/inbox/{name}/html")
async def message_html(request: Request, name: str) -> Response:
    html = _inbox(request).html(name)
    if html is None:
        raise HTTPException(404)
    headers = {"Content-Security-Policy": EMAIL_CSP, "X-Frame-Options": "SAMEORIGIN"}
    return HTMLResponse(html, headers=headers)
