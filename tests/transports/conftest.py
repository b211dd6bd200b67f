"""Real local servers for transport tests: aiosmtpd on loopback, uvicorn apps in a thread."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from clippost.mail import Message


def free_port() -> int:
    """A loopback port the OS says is free now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def make_message(number: int = 0, **overrides: Any) -> Message:
    values: dict[str, Any] = {
        "message_id": f"<msg{number}.x@clippost.test>",
        "from_address": "news@clippost.test",
        "from_name": "Clippost Ré",
        "to": f"reader{number}@example.org",
        "subject": f"Your highlights № {number}",
        "text": f"Hello {number}\n.a line with a dot\nFrom the start\n",
        "html": f"<p>Hello {number} — “quoted”</p>\n",
        "date": datetime(2026, 11, 22, 7, 0, tzinfo=UTC),
        "headers": {
            "List-Unsubscribe": f"<https://clippost.test/u/{number}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    }
    values.update(overrides)
    return Message(**values)


@pytest.fixture
def message_factory() -> Callable[..., Message]:
    return make_message


@dataclass
class Scripted:
    """An SMTP handler answering by recipient local part, deterministically:
    bounce* 550 5.1.1 at RCPT, busy* 451 at DATA, close* 421 at RCPT, big* 552 at DATA,
    spam* 554 5.7.1 at DATA; anything else is accepted and kept. A sender starting with
    "refused" gets 550 5.1.1 at MAIL (our own address refused, not the reader's)."""

    received: list[Envelope] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_MAIL(
        self, server: SMTPServer, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address.startswith("refused"):
            return "550 5.1.1 sender address rejected"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTPServer, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address.startswith("bounce"):
            return "550 5.1.1 no such user"
        if address.startswith("close"):
            return "421 4.3.2 closing, come back later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        recipient = envelope.rcpt_tos[0]
        if recipient.startswith("busy"):
            return "451 4.3.0 try again later"
        if recipient.startswith("big"):
            return "552 5.3.4 message too big"
        if recipient.startswith("spam"):
            return "554 5.7.1 rejected as spam"
        with self.lock:
            self.received.append(envelope)
        return "250 2.0.0 OK queued"


@dataclass
class Pipelining(Scripted):
    """Scripted, on a server that offers PIPELINING (RFC 2920; aiosmtpd reads commands line
    by line, so it serves a pipelining client as it is). For each MAIL it records whether the
    RCPT and DATA of that transaction had already arrived with it (the client pipelined),
    for each body whether the next MAIL came with it; MAIL from a sender starting with
    "deferred" is refused with 451."""

    grouped: list[bool] = field(default_factory=list)
    carried: list[bool] = field(default_factory=list)  # next MAIL came with this body

    async def handle_EHLO(
        self,
        server: SMTPServer,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname  # the 5-argument hook is responsible for it
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_MAIL(
        self, server: SMTPServer, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        buffered = bytes(getattr(server._reader, "_buffer", b""))
        self.grouped.append(b"RCPT TO:" in buffered and b"DATA\r\n" in buffered)
        if address.startswith("deferred"):
            return "451 4.3.0 sender deferred"
        return await super().handle_MAIL(server, session, envelope, address, options)

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        self.carried.append(b"MAIL FROM:" in bytes(getattr(server._reader, "_buffer", b"")))
        return await super().handle_DATA(server, session, envelope)


class CountingController(Controller):
    """An aiosmtpd controller that counts the connections it accepts."""

    def __init__(self, handler: Any, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.connections = 0

    def factory(self) -> SMTPServer:
        self.connections += 1
        return super().factory()


@pytest.fixture
def start_smtp() -> Iterator[Callable[..., CountingController]]:
    """Start aiosmtpd servers on loopback (all stopped at the end of the test)."""
    started: list[CountingController] = []

    def start(port: int | None = None, **kwargs: Any) -> CountingController:
        controller = CountingController(
            kwargs.pop("handler", None) or Scripted(),
            hostname="127.0.0.1",
            port=port or free_port(),
            **kwargs,
        )
        controller.start()
        controller.connections = 0  # start() opens one connection to check it is up
        started.append(controller)
        return controller

    yield start
    for controller in started:
        controller.stop()


Reply = Callable[[bytes], bytes | None]
HANG_UP = b"<hang up>"  # a RawSmtp answer ending in this closes the connection after it


class RawSmtp:
    """A few lines of SMTP server on loopback that say whatever `script` says, for replies
    aiosmtpd never gives (354 after a refused RCPT, a reply out of turn, multiline replies).

    `script(line)` gets each command line (without CRLF) and returns the bytes to write, or
    None for the default answer: EHLO offers PIPELINING, MAIL, RCPT and RSET get 250, DATA
    354, QUIT 221. After a 354 the body is read up to CRLF "." CRLF, kept in `bodies`, and
    answered with `script(b"<body>")` (default 250). An answer ending in HANG_UP closes the
    connection once the rest is written."""

    def __init__(self, script: Reply | None = None) -> None:
        self.script = script or (lambda line: None)
        self.connections = 0
        self.commands: list[bytes] = []
        self.bodies: list[bytes] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> RawSmtp:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()

    def _answer(self, line: bytes) -> bytes:
        scripted = self.script(line)
        if scripted is not None:
            return scripted
        verb = line[:4].upper()
        if verb == b"EHLO":
            return b"250-raw.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
        if verb == b"DATA":
            return b"354 go ahead\r\n"
        if verb == b"QUIT":
            return b"221 bye\r\n"
        return b"250 2.0.0 OK\r\n"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.write(b"220 raw.test ready\r\n")
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while line := (await reader.readline()).rstrip(b"\r\n"):
                self.commands.append(line)
                answer = self._answer(line)
                if answer.startswith(b"354"):
                    writer.write(answer)
                    self.bodies.append(await reader.readuntil(b"\r\n.\r\n"))
                    answer = self._answer(b"<body>")
                writer.write(answer.removesuffix(HANG_UP))
                if line.upper() == b"QUIT" or answer.endswith(HANG_UP):
                    break
                await writer.drain()
        writer.close()


@pytest.fixture
async def raw_smtp() -> AsyncIterator[Callable[..., Awaitable[RawSmtp]]]:
    """Start RawSmtp servers in the test's event loop (stopped at the end of the test)."""
    started: list[RawSmtp] = []

    async def start(script: Reply | None = None) -> RawSmtp:
        server = await RawSmtp(script).start()
        started.append(server)
        return server

    yield start
    for server in started:
        await server.stop()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with openssl for this test run."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def server_tls(tls_files: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*map(str, tls_files))
    return context


@pytest.fixture
def client_tls(tls_files: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(tls_files[0]))


class Authenticator:
    """Accepts one user name and password; records the mechanisms used."""

    def __init__(self, user: str, password: str) -> None:
        self.credentials = (user.encode(), password.encode())
        self.mechanisms: list[str] = []

    def __call__(
        self, server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        self.mechanisms.append(mechanism)
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == self.credentials
        return AuthResult(success=ok, handled=False)


@pytest.fixture
def authenticator_factory() -> type[Authenticator]:
    return Authenticator


@pytest.fixture
def unused_port() -> int:
    return free_port()


@pytest.fixture
def serve_app() -> Iterator[Callable[[Any], str]]:
    """Run ASGI apps with uvicorn in a thread on a free loopback port; yields base URLs."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def serve(app: Any) -> str:
        port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        servers.append((server, thread))
        return f"http://127.0.0.1:{port}"

    yield serve
    for server, thread in servers:
        server.should_exit = True
        with contextlib.suppress(RuntimeError):
            thread.join(timeout=5)
