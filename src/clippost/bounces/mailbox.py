"""The bounce mailbox: a Maildir folder or an IMAP mailbox, read message by message.

A message is moved once it has been dealt with: into the `Processed` folder when it was
understood (its events are committed first), into `Unrecognised` otherwise, where an
operator can read it. So a second run never sees a message twice; and were the move lost
(a crash just after the commit), the events' UNIQUE ids make the second reading a no-op.

Synchronous (imaplib, file renames): the command runs each call in a thread.
"""

from __future__ import annotations

import imaplib
import ipaddress
import os
import re
import ssl
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

from clippost.errors import BadInput, ConfigurationError

PROCESSED = "Processed"
UNRECOGNISED = "Unrecognised"
# Larger messages are not read (a bounce quoting a whole digest is a few hundred KB).
MAX_MESSAGE_BYTES = 5 * 1024 * 1024


class MailboxError(ConfigurationError):
    """The mailbox cannot be opened or read: said to the operator, nothing is changed."""


class Source(Protocol):
    def keys(self) -> list[str]: ...

    def fetch(self, key: str) -> bytes | None:
        """The message's bytes; None when it is larger than MAX_MESSAGE_BYTES."""
        ...

    def done(self, key: str, *, understood: bool) -> None: ...

    def close(self) -> None: ...


class MaildirSource:
    """A Maildir's inbox (`new/` and `cur/`); handled messages go to Maildir++ sub-folders
    (`.Processed`, `.Unrecognised`), which every IMAP server on a Maildir shows as folders."""

    def __init__(self, path: Path) -> None:
        if not (path / "cur").is_dir() or not (path / "new").is_dir():
            raise MailboxError(f"{path} is not a Maildir (it needs cur/, new/ and tmp/).")
        self.path = path

    def keys(self) -> list[str]:
        found = []
        for sub in ("new", "cur"):
            for entry in sorted(os.scandir(self.path / sub), key=lambda e: e.name):
                if entry.is_file() and not entry.name.startswith("."):
                    found.append(f"{sub}/{entry.name}")
        return found

    def fetch(self, key: str) -> bytes | None:
        file = self.path / key
        if file.stat().st_size > MAX_MESSAGE_BYTES:
            return None
        return file.read_bytes()

    def done(self, key: str, *, understood: bool) -> None:
        folder = self._folder(PROCESSED if understood else UNRECOGNISED)
        name = key.split("/", 1)[1]
        base, _, info = name.partition(":2,")
        flags = "".join(sorted(set(info) | {"S"}))
        # A rename within one file system: the message is in exactly one folder at any time.
        os.rename(self.path / key, folder / "cur" / f"{base}:2,{flags}")

    def close(self) -> None:
        return None

    def _folder(self, name: str) -> Path:
        folder = self.path / f".{name}"
        for sub in ("cur", "new", "tmp"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        (folder / "maildirfolder").touch()
        return folder


class ImapSource:
    """An IMAP mailbox named by `imaps://user[:password]@host[:port]/Folder` (implicit TLS)
    or `imap://...` (STARTTLS when offered; in the clear only to a loopback address)."""

    def __init__(
        self,
        url: str,
        *,
        password: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._target = _ImapTarget.parse(url, password)
        self._context = ssl_context or ssl.create_default_context()
        self._timeout = timeout
        self._client = self._connect()
        self._capabilities = self._login()
        self._select(self._target.folder)
        self._created: set[str] = set()
        self._expunge = False

    def keys(self) -> list[str]:
        data = self._ok(self._client.uid("SEARCH", "UNDELETED"), "search")
        return [uid.decode() for uid in _first_bytes(data).split()]

    def fetch(self, key: str) -> bytes | None:
        data = self._ok(self._client.uid("FETCH", key, "(RFC822.SIZE)"), "fetch")
        size = re.search(rb"RFC822\.SIZE (\d+)", _first_bytes(data))
        if size is not None and int(size.group(1)) > MAX_MESSAGE_BYTES:
            return None
        data = self._ok(self._client.uid("FETCH", key, "(BODY.PEEK[])"), "fetch")
        for item in data:
            if isinstance(item, tuple) and len(item) == 2:
                return bytes(item[1])
        raise MailboxError(f"The IMAP server returned no message for UID {key}.")

    def done(self, key: str, *, understood: bool) -> None:
        folder = PROCESSED if understood else UNRECOGNISED
        self._ensure_folder(folder)
        if "MOVE" in self._capabilities:
            self._ok(self._client.uid("MOVE", key, folder), "move")
            return
        self._ok(self._client.uid("COPY", key, folder), "copy")
        self._ok(self._client.uid("STORE", key, "+FLAGS.SILENT", r"(\Deleted)"), "flag")
        self._expunge = True

    def close(self) -> None:
        try:
            if self._expunge:
                self._client.expunge()
            self._client.logout()
        except (imaplib.IMAP4.error, OSError):
            pass

    def _connect(self) -> imaplib.IMAP4:
        target = self._target
        try:
            if target.implicit_tls:
                return imaplib.IMAP4_SSL(
                    target.host, target.port, ssl_context=self._context, timeout=self._timeout
                )
            client = imaplib.IMAP4(target.host, target.port, timeout=self._timeout)
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailboxError(f"Cannot connect to {target.host}:{target.port}: {exc}") from exc
        if "STARTTLS" in client.capabilities:
            try:
                client.starttls(ssl_context=self._context)
            except (OSError, imaplib.IMAP4.error) as exc:
                raise MailboxError(f"STARTTLS with {target.host} failed: {exc}") from exc
        elif not target.loopback:
            client.shutdown()
            raise MailboxError(
                f"{target.host} offers no STARTTLS: use imaps:// rather than send the "
                "password in the clear."
            )
        return client

    def _login(self) -> set[str]:
        try:
            self._client.login(self._target.user, self._target.password)
            _, data = self._client.capability()
        except imaplib.IMAP4.error as exc:
            raise MailboxError(f"The IMAP server refused the login: {exc}") from exc
        return {word.upper() for word in _first_bytes(data).decode(errors="replace").split()}

    def _select(self, folder: str) -> None:
        self._ok(self._client.select(_quoted(folder)), f"select {folder}")

    def _ensure_folder(self, name: str) -> None:
        if name in self._created:
            return
        status, _ = self._client.create(_quoted(name))  # NO when it exists: fine
        if status != "OK":
            self._ok(self._client.status(_quoted(name), "(MESSAGES)"), f"open folder {name}")
        self._created.add(name)

    def _ok(self, answer: tuple[str, Sequence[object]], what: str) -> list[object]:
        status, data = answer
        if status != "OK":
            raise MailboxError(f"The IMAP server refused to {what}: {data!r}")
        return list(data)


class _ImapTarget:
    def __init__(
        self, *, host: str, port: int, user: str, password: str, folder: str, tls: bool
    ) -> None:
        self.host, self.port, self.user, self.password = host, port, user, password
        self.folder, self.implicit_tls = folder, tls

    @property
    def loopback(self) -> bool:
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return self.host == "localhost"

    @classmethod
    def parse(cls, url: str, password: str | None) -> _ImapTarget:
        parts = urlsplit(url)
        if parts.scheme not in ("imap", "imaps") or not parts.hostname or not parts.username:
            raise BadInput("Give the mailbox as imaps://user@host/Folder (or imap://).")
        secret = unquote(parts.password) if parts.password is not None else password
        if not secret:
            raise BadInput("The IMAP password is missing: CLIPPOST_BOUNCE_IMAP_PASSWORD.")
        tls = parts.scheme == "imaps"
        try:
            port = parts.port or (993 if tls else 143)
        except ValueError as exc:
            raise BadInput("The IMAP URL has an invalid port.") from exc
        folder = unquote(parts.path.strip("/")) or "INBOX"
        user = unquote(parts.username)
        return cls(
            host=parts.hostname, port=port, user=user, password=secret, folder=folder, tls=tls
        )


def _first_bytes(data: Sequence[object]) -> bytes:
    first = data[0] if data else b""
    if isinstance(first, tuple):
        first = first[0]
    return first if isinstance(first, bytes) else b""


def _quoted(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._/-]{1,200}", name):
        raise BadInput(f"Unusual IMAP folder name {name!r}: use letters, digits and . _ / -")
    return name
