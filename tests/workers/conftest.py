"""Real parts for worker scenarios: an aiosmtpd server on loopback that records every
Message-ID it accepts (and can refuse on a deterministic schedule), worker processes started
as `python -m clippost worker`, and a fast way to fill the outbox."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import func, insert, select

from clippost.addresses import address_hash
from clippost.db.dialect import normalise_database_url
from clippost.db.engine import Database
from clippost.models import OutboxMessage

TEST_SECRET = "worker-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
_MESSAGE_ID = re.compile(rb"(?im)^message-id:[ \t]*(<[^>\r\n]+>)")

# (recipient, attempt number for that recipient starting at 1) -> SMTP reply, or None to accept
Faults = Callable[[str, int], str | None]


def share(recipient: str) -> float:
    """A stable number in [0, 1) per recipient: which fault class it falls into."""
    digest = hashlib.sha256(recipient.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class RecordingHandler:
    """Accepts mail and records each Message-ID; `faults` may refuse a transaction."""

    def __init__(self, faults: Faults | None = None) -> None:
        self.faults = faults
        self.received: list[str] = []
        self.attempts: Counter[str] = Counter()
        self.refused: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        recipient = envelope.rcpt_tos[0]
        with self._lock:
            self.attempts[recipient] += 1
            attempt = self.attempts[recipient]
        reply = self.faults(recipient, attempt) if self.faults else None
        if reply is not None:
            with self._lock:
                self.refused.append((recipient, reply))
            return reply
        content = envelope.content if isinstance(envelope.content, bytes) else b""
        found = _MESSAGE_ID.search(content)
        with self._lock:
            self.received.append(found.group(1).decode() if found else "<missing>")
        return "250 OK queued"


@dataclass
class SmtpServer:
    port: int
    handler: RecordingHandler
    controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, ready_timeout=10
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def received(self) -> list[str]:
        return self.handler.received


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[Callable[..., SmtpServer]]:
    """Factory: `smtp_server(faults=None, start=True)` -> a server on a free loopback port."""
    servers: list[SmtpServer] = []

    def make(*, faults: Faults | None = None, start: bool = True) -> SmtpServer:
        server = SmtpServer(port=free_port(), handler=RecordingHandler(faults))
        if start:
            server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


def digest_payload(n: int) -> dict[str, Any]:
    return {
        "highlights": [
            {
                "text": f"Highlight {n}: a passage worth reading again.",
                "book_title": "A Book",
                "book_author": "An Author",
                "favourite_url": f"http://testserver/favourite/{n}",
                "discard_url": f"http://testserver/discard/{n}",
            }
        ],
        "round_status": {"position": 1, "total": 10},
        "manage_url": "http://testserver/manage/x",
        "unsubscribe_url": "http://testserver/unsubscribe/x",
    }


async def seed_outbox(url: str, count: int, *, recipient: str = "reader{n}@example.org") -> None:
    """Insert `count` due digest rows in one statement (what the planner would have done)."""
    db = Database(normalise_database_url(url))
    due = datetime.now(UTC) - timedelta(seconds=1)
    rows = []
    for n in range(count):
        address = recipient.format(n=n)
        rows.append(
            {
                "idempotency_key": f"test:{n}",
                "message_id": f"<m{n}@clippost.test>",
                "kind": "digest",
                "requested": False,
                "recipient": address,
                "recipient_hash": address_hash(address),
                "payload": digest_payload(n),
                "state": "pending",
                "due_at": due,
                "attempts": 0,
                "created_at": due,
            }
        )
    try:
        async with db.transaction() as session:
            await session.execute(insert(OutboxMessage.__table__), rows)
    finally:
        await db.dispose()


async def states(url: str) -> dict[str, int]:
    db = Database(normalise_database_url(url))
    try:
        async with db.sessions() as session:
            found = await session.execute(
                select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
            )
            return {row[0]: row[1] for row in found}
    finally:
        await db.dispose()


@dataclass
class Workers:
    """Worker processes of one test, all stopped (SIGKILL if need be) at teardown."""

    env: dict[str, str]
    log_dir: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, **overrides: str) -> subprocess.Popen[bytes]:
        env = {**self.env, **overrides}
        log = (self.log_dir / f"worker{len(self.processes)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "clippost", "worker"], env=env, stdout=log, stderr=log
        )
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 25
        for process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("*.log")))


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[..., Workers]]:
    """Factory: `workers(database_url=..., smtp_port=..., **settings)` -> Workers."""
    made: list[Workers] = []

    def make(*, database_url: str, smtp_port: int, **settings: object) -> Workers:
        env = {key: value for key, value in os.environ.items() if not key.startswith("CLIPPOST_")}
        env.update(
            {
                "CLIPPOST_DATA_DIR": str(tmp_path / "data"),
                "CLIPPOST_DATABASE_URL": database_url,
                "CLIPPOST_SECRET_KEY": TEST_SECRET,
                "CLIPPOST_BASE_URL": "http://testserver",
                "CLIPPOST_MAIL_FROM": "news@clippost.test",
                "CLIPPOST_MAIL_TRANSPORT": "smtp",
                "CLIPPOST_SMTP_HOST": "127.0.0.1",
                "CLIPPOST_SMTP_PORT": str(smtp_port),
                "CLIPPOST_SMTP_TIMEOUT": "5",
                "CLIPPOST_WORKER_POLL_INTERVAL": "0.2",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update({f"CLIPPOST_{key.upper()}": str(value) for key, value in settings.items()})
        log_dir = tmp_path / f"logs{len(made)}"
        log_dir.mkdir()
        group = Workers(env=env, log_dir=log_dir)
        made.append(group)
        return group

    yield make
    for group in made:
        group.stop_all()


@pytest.fixture
def helpers() -> Any:
    """The module's plain helpers, for tests (conftest modules are not importable by name)."""
    return sys.modules[__name__]
