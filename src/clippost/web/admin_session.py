"""The operator's session: a signed cookie, nothing stored on the server.

The cookie holds an expiry time, a random part and an HMAC of both under a key derived
from the site's secret key and from the configured operator password, so that changing
`CLIPPOST_ADMIN_PASSWORD` (or the secret key) ends every session at once, and any number of
web processes agree on a session without sharing state. It is HttpOnly (no script reads
it), SameSite=Strict (no other site's page or link sends it, so the actions behind it also
carry the CSRF token of the other forms) and, on https, Secure with the `__Host-` prefix
(no sibling subdomain can set it).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta

LIFETIME = timedelta(hours=8)
_VALUE = re.compile(r"(\d{1,12})\.([A-Za-z0-9_-]{16,32})\.([0-9a-f]{64})")


def cookie_name(*, https: bool) -> str:
    return "__Host-clippost_admin" if https else "clippost_admin"


class AdminSessions:
    def __init__(self, secret_key: str, configured_password: str) -> None:
        bound = hashlib.sha256(configured_password.encode()).digest()
        self._key = hmac.new(
            secret_key.encode(), b"clippost-admin-session-v1|" + bound, hashlib.sha256
        ).digest()

    def issue(self, *, now: datetime) -> str:
        expires = int((now + LIFETIME).timestamp())
        body = f"{expires}.{secrets.token_urlsafe(12)}"
        return f"{body}.{self._mac(body)}"

    def valid(self, value: str | None, *, now: datetime) -> bool:
        found = _VALUE.fullmatch(value or "")
        if found is None:
            return False
        body = f"{found.group(1)}.{found.group(2)}"
        if not hmac.compare_digest(self._mac(body), found.group(3)):
            return False
        return int(found.group(1)) > now.timestamp()

    def set_cookie_header(self, value: str, *, https: bool) -> str:
        secure = "; Secure" if https else ""
        seconds = int(LIFETIME.total_seconds())
        return (
            f"{cookie_name(https=https)}={value}; Path=/; Max-Age={seconds}; "
            f"HttpOnly; SameSite=Strict{secure}"
        )

    @staticmethod
    def clear_cookie_header(*, https: bool) -> str:
        secure = "; Secure" if https else ""
        return f"{cookie_name(https=https)}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{secure}"

    def _mac(self, body: str) -> str:
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()
