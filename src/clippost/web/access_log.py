"""One line per request at info level: method, path, status, time; never a token.

clippost's URLs carry signed tokens that grant access (a manage link opens a library), so
the path is logged with every token replaced by `[token]` and without its query string
(searches are the reader's own words). Pure ASGI, like the security middleware.
"""

from __future__ import annotations

import logging
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("clippost.web.access")

# The first segment of every path whose second segment is a signed token.
_TOKEN_PATHS = frozenset(
    {"confirm", "add", "manage", "unsubscribe", "favourite", "discard", "passage", "resubscribe"}
)
# A token anywhere else: PAYLOAD.SIGNATURE in URL-safe base64 (links/tokens.py).
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{16,}")
REDACTED = "[token]"


def redact_path(path: str) -> str:
    """`path` with every segment that is (or may be) a token replaced by `[token]`."""
    segments = path.split("/")
    for index, segment in enumerate(segments):
        after_prefix = index == 2 and segments[1] in _TOKEN_PATHS and segment
        if after_prefix or _TOKEN_SHAPE.fullmatch(segment):
            segments[index] = REDACTED
    return "/".join(segments)


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app fails before answering

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            path = redact_path(scope.get("path", ""))
            log.info("%s %s %s %.1f ms", scope.get("method", "-"), path, status, elapsed)
