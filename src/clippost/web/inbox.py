"""The local inbox (`/dev/inbox`): the emails the Maildir transport wrote, for a developer
on their own machine, the way Mailpit shows a test server's mail.

On only when all of these hold, so that no deployed site can ever show its readers' mail:
the transport is the local Maildir, the server is bound to a loopback address, the public
URL (`CLIPPOST_BASE_URL`) is a loopback one too (a site behind a proxy has a public one),
and the request itself comes from loopback without a proxy's forwarding headers.
"""

from __future__ import annotations

import email
import email.policy
import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

from clippost.config import Settings

_NAME = re.compile(r"[A-Za-z0-9._,=:\\-]{1,255}")
_LISTED = 200
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
# What a reverse proxy adds: a request carrying one did not come straight from this machine.
_PROXY_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    name = host.strip("[]").lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def inbox_enabled(settings: Settings, bound_host: str | None) -> bool:
    """Whether this server may show its mail folder (see the module's docstring)."""
    return (
        settings.mail_transport == "maildir"
        and is_loopback(bound_host)
        and is_loopback(urlsplit(settings.base_url).hostname)
    )


def request_allowed(client_host: str | None, headers: dict[str, str]) -> bool:
    return is_loopback(client_host) and not any(name in headers for name in _PROXY_HEADERS)


@dataclass(frozen=True, slots=True)
class Summary:
    name: str
    received: datetime
    to: str
    subject: str


@dataclass(frozen=True, slots=True)
class Shown:
    summary: Summary
    headers: list[tuple[str, str]]
    text: str
    has_html: bool


class Inbox:
    """The Maildir's `new` and `cur` folders, read-only."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def newest(self) -> list[Summary]:
        files = [path for folder in ("new", "cur") for path in self._files(folder)]
        files.sort(key=lambda path: path.stat().st_mtime_ns, reverse=True)
        return [self._summary(path, _parse(path)) for path in files[:_LISTED]]

    def message(self, name: str) -> Shown | None:
        path = self._find(name)
        if path is None:
            return None
        message = _parse(path)
        text = message.get_body(preferencelist=("plain",))
        return Shown(
            summary=self._summary(path, message),
            headers=[(key, str(value)) for key, value in message.items()],
            text=text.get_content() if text is not None else "",
            has_html=message.get_body(preferencelist=("html",)) is not None,
        )

    def html(self, name: str) -> str | None:
        path = self._find(name)
        body = None if path is None else _parse(path).get_body(preferencelist=("html",))
        return None if body is None else str(body.get_content())

    def _files(self, folder: str) -> list[Path]:
        directory = self.root / folder
        return [p for p in directory.iterdir() if p.is_file()] if directory.is_dir() else []

    def _find(self, name: str) -> Path | None:
        # Only a plain Maildir file name: no separator, no "..", nothing outside the folder.
        if not _NAME.fullmatch(name) or name in (".", ".."):
            return None
        for folder in ("new", "cur"):
            path = self.root / folder / name
            if path.is_file():
                return path
        return None

    @staticmethod
    def _summary(path: Path, message: EmailMessage) -> Summary:
        received = datetime.fromtimestamp(path.stat().st_mtime).astimezone()
        return Summary(path.name, received, str(message["To"] or ""), str(message["Subject"] or ""))


def _parse(path: Path) -> EmailMessage:
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
