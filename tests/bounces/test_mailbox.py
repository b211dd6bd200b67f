"""`clippost bounces`: a real Maildir, and a real IMAP server (pymap) on loopback, over
STARTTLS and implicit TLS, both with the tests' own CA. A second run counts nothing twice."""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from clippost import verp
from clippost.addresses import address_hash
from clippost.bounces.mailbox import ImapSource, MailboxError, MaildirSource
from clippost.cli import main
from clippost.cli.bounces import MailboxSummary, read_mailbox
from clippost.config import Settings
from clippost.links import Purpose
from clippost.models import OutboxMessage, Subscriber, SubscriberStatus, Suppression
from clippost.runtime import Runtime, open_runtime

from .conftest import ORIGINAL_ID, Pki, fixture_bytes

NOW = datetime(2026, 12, 14, 8, 0, tzinfo=UTC)
READER = "reader@example.org"
LEAVER = "leaver@example.org"
MAILBOX_USER = "bounces@clippost.test"
MAILBOX_PASSWORD = "imap-password-0123"
FIXTURES = (
    "postfix_dsn.eml",
    "gmail_dsn.eml",
    "arf_redacted.eml",
    "exim_delay.eml",
    "autoreply.eml",
)


@dataclass
class Mailbox:
    """What the mailbox should hold: fixtures, a VERP bounce and a mailto unsubscribe."""

    messages: list[bytes]
    verp_row: int
    leaver: int


async def _prepare(runtime: Runtime) -> Mailbox:
    """A reader with a sent digest (the fixtures' Message-ID), another with a digest whose
    bounce comes back by VERP only, and a third who unsubscribes by mail."""
    async with runtime.db.transaction() as session:
        reader = Subscriber(email=READER, status=SubscriberStatus.CONFIRMED, next_slot_at=NOW)
        leaver = Subscriber(email=LEAVER, status=SubscriberStatus.CONFIRMED, next_slot_at=NOW)
        session.add_all([reader, leaver])
        await session.flush()
        rows = [
            _row(1, READER, reader.id, ORIGINAL_ID),
            _row(2, "verp@example.org", None, "<verp-only@clippost.test>"),
        ]
        session.add_all(rows)
        await session.flush()
        verp_row, leaver_id = rows[1].id, leaver.id
    token = runtime.links.token(Purpose.UNSUBSCRIBE, leaver_id, now=NOW)
    address = verp.return_path(verp_row, domain="clippost.test", key=runtime.secret_key)
    verp_bounce = (
        fixture_bytes("qmail.eml")
        .replace(b"Delivered-To: news@clippost.test", f"Delivered-To: {address}".encode())
        .replace(ORIGINAL_ID.encode(), b"<unknown@elsewhere.example>")
    )
    unsubscribe = (
        f"From: {LEAVER}\r\nTo: news@clippost.test\r\nSubject: unsubscribe {token}\r\n"
        "Message-ID: <u1@example.org>\r\n\r\n\r\n"
    ).encode()
    messages = [fixture_bytes(name) for name in FIXTURES] + [verp_bounce, unsubscribe]
    return Mailbox(messages=messages, verp_row=verp_row, leaver=leaver_id)


def _row(number: int, email: str, subscriber_id: int | None, message_id: str) -> OutboxMessage:
    return OutboxMessage(
        idempotency_key=f"test:{number}",
        message_id=message_id,
        kind="digest",
        recipient=email,
        recipient_hash=address_hash(email),
        subscriber_id=subscriber_id,
        payload={},
        state="sent",
        due_at=NOW,
    )


async def _check_effects(runtime: Runtime, mailbox: Mailbox) -> None:
    async with runtime.db.transaction() as session:
        reasons = dict(
            (await session.execute(select(Suppression.address_hash, Suppression.reason))).all()
        )
        leaver = await session.get(Subscriber, mailbox.leaver)
    assert reasons[address_hash(READER)] == "bounced"  # the Postfix DSN, by Message-ID
    assert reasons[address_hash("verp@example.org")] == "bounced"  # by VERP alone
    assert reasons[address_hash(LEAVER)] == "unsubscribed"
    assert address_hash("gone@example.org") not in reasons  # reports act on our recipient
    assert leaver is not None
    assert leaver.status == SubscriberStatus.UNSUBSCRIBED


def _write_maildir(path: Path, messages: list[bytes]) -> None:
    for sub in ("cur", "new", "tmp"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    for number, raw in enumerate(messages):
        (path / "new" / f"1765695600.M{number}P1.test").write_bytes(raw)


class TestMaildir:
    async def test_read_acted_on_and_moved(self, settings: Settings, tmp_path: Path) -> None:
        """Every message is handled and moved: understood ones to .Processed, others to
        .Unrecognised; a second run finds nothing."""
        async with open_runtime(settings, with_transport=False) as runtime:
            mailbox = await _prepare(runtime)
            _write_maildir(tmp_path / "Maildir", mailbox.messages)
            source = MaildirSource(tmp_path / "Maildir")
            summary = await read_mailbox(runtime, source)
            again = await read_mailbox(runtime, source)
            await _check_effects(runtime, mailbox)
        assert summary.read == 7
        assert summary.kinds == {"complaint": 1, "hard_bounce": 3}
        assert summary.unsubscribed == 2  # the mailto request; the complaint's reader
        assert sum(summary.unrecognised.values()) == 2  # the delay warning, the auto-reply
        assert again.read == 0
        processed = sorted(os.listdir(tmp_path / "Maildir" / ".Processed" / "cur"))
        assert len(processed) == 5
        assert all(name.endswith(":2,S") for name in processed)
        assert len(os.listdir(tmp_path / "Maildir" / ".Unrecognised" / "cur")) == 2
        assert os.listdir(tmp_path / "Maildir" / "new") == []

    async def test_a_message_read_twice_counts_once(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        """Were a message delivered again (or its move lost), it records nothing new."""
        async with open_runtime(settings, with_transport=False) as runtime:
            await _prepare(runtime)
            _write_maildir(tmp_path / "a", [fixture_bytes("postfix_dsn.eml")])
            _write_maildir(tmp_path / "b", [fixture_bytes("postfix_dsn.eml")])
            first = await read_mailbox(runtime, MaildirSource(tmp_path / "a"))
            second = await read_mailbox(runtime, MaildirSource(tmp_path / "b"))
        assert (first.recorded, second.recorded, second.replayed) == (1, 0, 1)

    def test_not_a_maildir(self, tmp_path: Path) -> None:
        """A folder without cur/ and new/ is refused with a clear message."""
        with pytest.raises(MailboxError, match="not a Maildir"):
            MaildirSource(tmp_path)


class TestCommand:
    def test_the_command_prints_what_it_did(
        self, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """`clippost bounces --maildir` handles the folder and prints a summary."""
        _write_maildir(tmp_path / "Maildir", [fixture_bytes("gmail_dsn.eml")])
        for name in ("data_dir", "database_url", "secret_key", "mail_from"):
            value = getattr(settings, name)
            value = value.get_secret_value() if hasattr(value, "get_secret_value") else value
            monkeypatch.setenv(f"CLIPPOST_{name.upper()}", str(value))
        monkeypatch.chdir(tmp_path)
        out = io.StringIO()
        monkeypatch.setattr(sys, "stdout", out)
        assert main(["bounces", "--maildir", str(tmp_path / "Maildir")]) == 0
        assert "read 1 messages: 1 events recorded (hard_bounce 1)" in out.getvalue()

    def test_a_missing_folder_is_a_clear_message(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A folder that is not a Maildir ends the command with a message, exit status 2."""
        monkeypatch.setenv("CLIPPOST_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.chdir(tmp_path)
        assert main(["bounces", "--maildir", str(tmp_path / "nope")]) == 2
        assert "is not a Maildir" in capsys.readouterr().err


# IMAP ------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@contextlib.contextmanager
def _pymap(pki: Pki, *, tls: bool) -> Iterator[int]:
    """pymap's in-memory backend on a loopback port: STARTTLS with the test CA's
    certificate, or plain (behind the implicit-TLS proxy below)."""
    port = _free_port()
    tls_args = (
        ["--cert", str(pki.server_cert), "--key", str(pki.server_key)] if tls else ["--no-tls"]
    )
    command = [
        sys.executable,
        "-c",
        "from pymap.main import main; main()",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *tls_args,
        "dict",
        "--demo-user",
        MAILBOX_USER,
        "--demo-password",
        MAILBOX_PASSWORD,
    ]
    env = {**os.environ, "FQDN": "imap.test"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"pymap did not start: {process.stderr.read() if process.stderr else ''}"
                )
            time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def _append(port: int, pki: Pki, messages: list[bytes], *, tls: bool) -> None:
    client = imaplib.IMAP4("127.0.0.1", port)
    if tls:
        client.starttls(ssl_context=pki.client_context())
    client.login(MAILBOX_USER, MAILBOX_PASSWORD)
    for raw in messages:
        client.append("INBOX", None, None, raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    client.logout()


def _folder_sizes(port: int, pki: Pki, *, tls: bool) -> dict[str, int]:
    client = imaplib.IMAP4("127.0.0.1", port)
    if tls:
        client.starttls(ssl_context=pki.client_context())
    client.login(MAILBOX_USER, MAILBOX_PASSWORD)
    sizes = {}
    for folder in ("INBOX", "Processed", "Unrecognised"):
        status, data = client.select(folder, readonly=True)
        count = int(data[0] or 0) if status == "OK" else -1
        _, found = client.search(None, "ALL")  # after the expunge, nothing flagged is left
        sizes[folder] = len((found[0] or b"").split()) if count >= 0 else -1
    client.logout()
    return sizes


@contextlib.asynccontextmanager
async def _tls_proxy(pki: Pki, target: int) -> AsyncIterator[int]:
    """Implicit TLS in front of a plain IMAP port, as a TLS-terminating proxy does."""

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", target)
        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=pki.server_context())
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


class TestImap:
    async def test_starttls(self, settings: Settings, pki: Pki) -> None:
        """Over imap:// with STARTTLS, every message is handled and moved to a folder; a
        second run finds the inbox empty."""
        async with open_runtime(settings, with_transport=False) as runtime:
            mailbox = await _prepare(runtime)
            with _pymap(pki, tls=True) as port:
                await asyncio.to_thread(_append, port, pki, mailbox.messages, tls=True)
                url = f"imap://bounces%40clippost.test@127.0.0.1:{port}/INBOX"
                summary, again = await self._run_twice(runtime, url, pki)
                sizes = await asyncio.to_thread(_folder_sizes, port, pki, tls=True)
            await _check_effects(runtime, mailbox)
        assert (summary.read, summary.recorded, again.read) == (7, 4, 0)
        assert sizes == {"INBOX": 0, "Processed": 5, "Unrecognised": 2}

    async def test_implicit_tls_and_no_move(
        self, settings: Settings, pki: Pki, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Over imaps://, and on a server without MOVE (COPY, flag, expunge instead)."""
        original = ImapSource._login

        def without_move(source: ImapSource) -> set[str]:
            return original(source) - {"MOVE"}

        monkeypatch.setattr(ImapSource, "_login", without_move)
        async with open_runtime(settings, with_transport=False) as runtime:
            mailbox = await _prepare(runtime)
            with _pymap(pki, tls=False) as port:
                await asyncio.to_thread(_append, port, pki, mailbox.messages, tls=False)
                async with _tls_proxy(pki, port) as tls_port:
                    url = f"imaps://bounces%40clippost.test@127.0.0.1:{tls_port}"
                    summary, again = await self._run_twice(runtime, url, pki)
                sizes = await asyncio.to_thread(_folder_sizes, port, pki, tls=False)
            await _check_effects(runtime, mailbox)
        assert (summary.read, again.read) == (7, 0)
        assert sizes == {"INBOX": 0, "Processed": 5, "Unrecognised": 2}

    async def test_a_wrong_password_is_a_clear_message(self, pki: Pki) -> None:
        """A refused login is said to the operator."""
        with _pymap(pki, tls=True) as port:
            url = f"imap://bounces%40clippost.test:wrong@127.0.0.1:{port}/INBOX"
            with pytest.raises(MailboxError, match="refused the login"):
                await asyncio.to_thread(ImapSource, url, ssl_context=pki.client_context())

    @staticmethod
    async def _run_twice(
        runtime: Runtime, url: str, pki: Pki
    ) -> tuple[MailboxSummary, MailboxSummary]:
        results = []
        for _ in range(2):
            source = await asyncio.to_thread(
                ImapSource, url, password=MAILBOX_PASSWORD, ssl_context=pki.client_context()
            )
            try:
                results.append(await read_mailbox(runtime, source))
            finally:
                await asyncio.to_thread(source.close)
        return results[0], results[1]
