"""The SMTP transport with a DKIM signer, into a real aiosmtpd server; dkimpy verifies."""

from __future__ import annotations

import os
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session

from clippost.config import Settings
from clippost.dkim.signer import DkimSigner
from clippost.errors import ConfigurationError
from clippost.mail import Permanent, Sent
from clippost.rendering.mime import build_mime
from clippost.transports.factory import transport_from_settings
from clippost.transports.smtp import SmtpTransport
from factories import transport_options

from .conftest import DOMAIN, DkimKeys, Lookup, digest_message, verify_all


class Keep:
    """Accepts everything and keeps each message's bytes as received."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.original_content, bytes)
        with self.lock:
            self.received.append(envelope.original_content)
        return "250 2.0.0 OK"


@pytest.fixture
def server() -> Iterator[tuple[Keep, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    handler = Keep()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def transport(port: int, signer: DkimSigner | None, **kwargs: Any) -> SmtpTransport:
    options = {"host": "127.0.0.1", "port": port, "security": "none", "pool_size": 4}
    return SmtpTransport(signer=signer, **transport_options("smtp_", **options, **kwargs))


def messages(count: int) -> list[Any]:
    return [
        digest_message(message_id=f"<d{n}.x@clippost.test>", to=f"reader{n}@example.org")
        for n in range(count)
    ]


class TestSignedDelivery:
    @pytest.mark.parametrize("processes", [0, 1], ids=["in-process", "signing-process"])
    async def test_received_messages_verify(
        self, server: tuple[Keep, int], test_keys: DkimKeys, dnsfunc: Lookup, processes: int
    ) -> None:
        """Every message received carries two signatures that dkimpy verifies."""
        handler, port = server
        keys = [test_keys.rsa, test_keys.ed25519]
        sender = transport(port, DkimSigner(keys, domain=DOMAIN, processes=processes))
        try:
            results = await sender.send_many(messages(70))
        finally:
            await sender.close()
        assert all(isinstance(result, Sent) for result in results)
        assert len(handler.received) == 70
        assert all(verify_all(raw, dnsfunc) == [True, True] for raw in handler.received)

    async def test_a_received_message_altered_fails(
        self, server: tuple[Keep, int], test_keys: DkimKeys, dnsfunc: Lookup
    ) -> None:
        """The received message with its Subject changed no longer verifies."""
        handler, port = server
        sender = transport(port, DkimSigner([test_keys.rsa, test_keys.ed25519], domain=DOMAIN))
        try:
            await sender.send_many(messages(1))
        finally:
            await sender.close()
        (raw,) = handler.received
        assert verify_all(raw.replace(b"Subject: ", b"Subject: Re: ", 1), dnsfunc) == [False] * 2

    async def test_unsigned_without_a_signer(self, server: tuple[Keep, int]) -> None:
        """Without DKIM settings the server receives exactly what rendering.mime built."""
        handler, port = server
        batch = messages(3)
        sender = transport(port, None)
        try:
            await sender.send_many(batch)
        finally:
            await sender.close()
        assert sorted(handler.received) == sorted(build_mime(m) for m in batch)
        assert not any(b"DKIM-Signature" in raw for raw in handler.received)

    async def test_a_refused_message_does_not_hold_up_the_batch(
        self, server: tuple[Keep, int], test_keys: DkimKeys
    ) -> None:
        """A message build_mime refuses gets its result; the others are signed and sent."""
        _, port = server
        batch = messages(40)
        batch[5] = digest_message(to="not an address")
        sender = transport(port, DkimSigner([test_keys.ed25519], domain=DOMAIN, processes=1))
        try:
            results = await sender.send_many(batch)
        finally:
            await sender.close()
        assert isinstance(results[5], Permanent)
        assert results[5].bounce
        assert sum(isinstance(result, Sent) for result in results) == 39

    async def test_a_killed_signing_process_is_survived(
        self,
        server: tuple[Keep, int],
        test_keys: DkimKeys,
        dnsfunc: Lookup,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """When a signing process dies, the batch is signed in-process, then a new pool
        starts: no message goes unsigned or unsent."""
        handler, port = server
        signer = DkimSigner([test_keys.rsa], domain=DOMAIN, processes=1)
        sender = transport(port, signer)
        try:
            await sender.send_many(messages(2))
            assert signer.pool is not None
            for pid in signer.pool.process_ids:
                os.kill(pid, signal.SIGKILL)
            second = await sender.send_many(messages(40))
            third = await sender.send_many(messages(5))
        finally:
            await sender.close()
        assert all(isinstance(result, Sent) for result in [*second, *third])
        assert "signing in-process" in caplog.text
        assert len(handler.received) == 47
        assert all(verify_all(raw, dnsfunc) == [True] for raw in handler.received)


class TestFromSettings:
    def _settings(self, tmp_path: Path, **values: Any) -> Settings:
        values.setdefault("mail_from", "news@clippost.test")
        return Settings(_env_file=None, data_dir=tmp_path, **values)  # type: ignore[call-arg]

    def test_smtp_with_keys_signs(self, tmp_path: Path, test_keys: DkimKeys) -> None:
        """CLIPPOST_DKIM_* settings give the smtp transport a signer for the sender's domain."""
        settings = self._settings(
            tmp_path,
            mail_transport="smtp",
            dkim_rsa_selector="r1",
            dkim_rsa_key_file=test_keys.rsa_file,
            dkim_signing_processes=3,
        )
        transport = transport_from_settings(settings)
        assert isinstance(transport, SmtpTransport)
        signer = transport.signer
        assert signer is not None
        assert signer.domain == DOMAIN
        assert signer.pool is not None
        assert [key.selector for key in signer.keys] == ["r1"]

    def test_a_bad_key_stops_start_up(self, tmp_path: Path) -> None:
        """A key file that cannot be read fails the transport's construction, by name."""
        settings = self._settings(
            tmp_path,
            mail_transport="smtp",
            dkim_ed25519_selector="e1",
            dkim_ed25519_key_file=tmp_path / "missing.pem",
        )
        with pytest.raises(ConfigurationError, match=r"missing\.pem"):
            transport_from_settings(settings)

    def test_other_transports_do_not_sign(self, tmp_path: Path, test_keys: DkimKeys) -> None:
        """Providers sign with their own keys: only the smtp transport gets a signer."""
        settings = self._settings(
            tmp_path, dkim_rsa_selector="r1", dkim_rsa_key_file=test_keys.rsa_file
        )
        transport = transport_from_settings(settings)
        assert not isinstance(transport, SmtpTransport)
        assert getattr(transport, "signer", None) is None
