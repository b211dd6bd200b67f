"""CSRF tokens and the security headers every response carries.

CSRF design: a stateless double-submit token bound to the browser. Each browser gets a random
value in a cookie (`__Host-clippost_csrf` when the site is served over https, so a sibling
subdomain cannot plant one; `clippost_csrf` on plain http, where the `__Host-` prefix is
refused by browsers). Forms carry `HMAC(key, cookie value)`; a POST is accepted only when the
token matches the cookie the browser sent. Why this rather than a signed token with a purpose
and a time: a token minted by an attacker in their own browser is useless in the victim's
(it is bound to a cookie the attacker cannot read or set), nothing is stored server-side, any
number of web processes agree on it, and an open tab never "expires" mid-form. The cookie is
HttpOnly, SameSite=Lax and Secure when the site is https; it holds no identity.

The RFC 8058 one-click unsubscribe is the one POST without a token: mail providers send it
without cookies, and the signed URL itself is the proof (see routes/unsubscribe.py).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping

from starlette.datastructures import MutableHeaders
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clippost.errors import ClippostError

CSRF_FIELD = "csrf_token"
_COOKIE_VALUE = re.compile(r"[A-Za-z0-9_-]{32,64}")

# No inline script or style anywhere: every script and sheet is a file under /static.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


class CsrfRejected(ClippostError):
    """A form POST without a valid token: stale page, cookies off, or a cross-site forgery."""

    status_code = 403


def csrf_cookie_name(*, https: bool) -> str:
    return "__Host-clippost_csrf" if https else "clippost_csrf"


class CsrfTokens:
    """Mints and checks the form token bound to a browser's CSRF cookie."""

    def __init__(self, secret_key: str) -> None:
        # A key of its own, derived from the site key, so a CSRF token is never a link token.
        self._key = hmac.new(secret_key.encode(), b"clippost-csrf-v1", hashlib.sha256).digest()

    def token_for(self, cookie_value: str) -> str:
        return hmac.new(self._key, cookie_value.encode(), hashlib.sha256).hexdigest()

    def verify(self, cookie_value: str | None, submitted: str | None) -> None:
        """Raise CsrfRejected unless `submitted` is the token for the browser's cookie."""
        if not cookie_value or not submitted or not _COOKIE_VALUE.fullmatch(cookie_value):
            raise CsrfRejected(_REJECTED)
        if not hmac.compare_digest(self.token_for(cookie_value), submitted):
            raise CsrfRejected(_REJECTED)


_REJECTED = (
    "This form could not be accepted: it has expired, cookies are turned off, or it was sent "
    "from another site. Go back, reload the page and try again."
)


def security_headers(*, https: bool) -> dict[str, str]:
    headers = {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Frame-Options": "DENY",
        # Tokens travel in URLs: never let them leak to another site through Referer.
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if https:
        headers["Strict-Transport-Security"] = "max-age=31536000"
    return headers


class SecurityMiddleware:
    """Pure ASGI (no per-request task overhead): headers on every response, and a CSRF
    cookie for browsers that have none, set on HTML pages (where forms are)."""

    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.https = https
        self.cookie_name = csrf_cookie_name(https=https)
        self.headers = security_headers(https=https)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        existing = _request_cookie(scope, self.cookie_name)
        fresh = None if existing else secrets.token_urlsafe(32)
        scope.setdefault("state", {})["csrf_cookie"] = existing or fresh
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                self._decorate(headers, static=static, fresh_cookie=fresh)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _decorate(self, headers: MutableHeaders, *, static: bool, fresh_cookie: str | None) -> None:
        for name, value in self.headers.items():
            # A response with a policy of its own keeps it (the local inbox's framed email).
            if name not in headers:
                headers[name] = value
        # Pages behind tokens (and every page may show a CSRF token) are never cached.
        headers["Cache-Control"] = "public, max-age=3600" if static else "no-store"
        if fresh_cookie and headers.get("content-type", "").startswith("text/html"):
            headers.append("set-cookie", self._cookie(fresh_cookie))

    def _cookie(self, value: str) -> str:
        secure = "; Secure" if self.https else ""
        return f"{self.cookie_name}={value}; Path=/; HttpOnly; SameSite=Lax{secure}"


def _request_cookie(scope: Scope, name: str) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == b"cookie":
            found = _valid(cookie_parser(value.decode("latin-1")), name)
            if found:
                return found
    return None


def _valid(cookies: Mapping[str, str], name: str) -> str | None:
    value = cookies.get(name)
    return value if value and _COOKIE_VALUE.fullmatch(value) else None
