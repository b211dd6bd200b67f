"""SmtpTransport against a real aiosmtpd server on loopback."""

from __future__ import annotations

import asyncio
import email
import email.message
import email.policy
import ssl
import time
from collections.abc import Callable
from typing import Any

import pytest

from clippost.mail import Message, Permanent, Sent, Transient
from clippost.transports.ratelimit import TokenBucket
from clippost.transports.smtp import SmtpTransport, classify_reply
from factories import transport_options

from .conftest import HANG_UP, Pipelining


def transport_for(port: int, **kwargs: Any) -> SmtpTransport:
    options: dict[str, Any] = {"host": "127.0.0.1", "port": port, "security": "none"}
    options.update(kwargs)
    return SmtpTransport(**transport_options("smtp_", **options))


def parsed(envelope: Any) -> email.message.EmailMessage:
    message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


class TestClassifyReply:
    @pytest.mark.parametrize(
        ("code", "text", "expected"),
        [
            (250, "2.0.0 OK", Sent(provider_id="2.0.0 OK")),
            (421, "4.3.2 closing", Transient("421 4.3.2 closing")),
            (451, "4.3.0 later", Transient("451 4.3.0 later")),
            (550, "5.1.1 no such user", Permanent("550 5.1.1 no such user", bounce=True)),
            (550, "mailbox unavailable", Permanent("550 mailbox unavailable", bounce=True)),
            (551, "user not local", Permanent("551 user not local", bounce=True)),
            (553, "bad mailbox name", Permanent("553 bad mailbox name", bounce=True)),
            (552, "5.3.4 too big", Permanent("552 5.3.4 too big", bounce=False)),
            (554, "5.7.1 spam", Permanent("554 5.7.1 spam", bounce=False)),
            (550, "5.7.1 policy", Permanent("550 5.7.1 policy", bounce=False)),
            (554, "5.1.1 unknown", Permanent("554 5.1.1 unknown", bounce=True)),
        ],
    )
    def test_reply_codes(self, code: int, text: str, expected: object) -> None:
        """2xx is sent, 4xx transient, 5xx permanent and a bounce only when about the
        recipient."""
        assert classify_reply(code, text) == expected


class TestDelivery:
    async def test_batch_over_the_pool_arrives_intact(
        self, start_smtp: Callable[..., Any], message_factory: Callable[..., Message]
    ) -> None:
        """A batch sent over a pool of 4 arrives whole, each parsing back identically."""
        server = start_smtp()
        messages = [message_factory(n) for n in range(40)]
        transport = transport_for(server.port, pool_size=4)
        try:
            results = await transport.send_many(messages)
        finally:
            await transport.close()
        assert all(isinstance(result, Sent) for result in results)
        assert server.connections == 4
        by_id = {parsed(env)["Message-ID"]: parsed(env) for env in server.handler.received}
        assert set(by_id) == {message.message_id for message in messages}
        for message in messages:
            got = by_id[message.message_id]
            assert got["Subject"] == message.subject
            assert got["From"].addresses[0].display_name == message.from_name
            assert got["List-Unsubscribe"] == message.headers["List-Unsubscribe"]
            plain, html = (p.get_content().replace("\r\n", "\n") for p in got.iter_parts())
            assert (plain, html) == (message.text, message.html)

    async def test_envelope_uses_bare_addresses(
        self, start_smtp: Callable[..., Any], message_factory: Callable[..., Message]
    ) -> None:
        """MAIL FROM and RCPT TO carry the message's bare addresses."""
        server = start_smtp()
        transport = transport_for(server.port)
        await transport.send_many([message_factory(7)])
        await transport.close()
        envelope = server.handler.received[0]
        assert (envelope.mail_from, envelope.rcpt_tos) == (
            "news@clippost.test",
            ["reader7@example.org"],
        )

    async def test_connections_persist_across_batches(
        self, start_smtp: Callable[..., Any], message_factory: Callable[..., Message]
    ) -> None:
        """A second batch reuses the pool's open connections."""
        server = start_smtp()
        transport = transport_for(server.port, pool_size=2)
        await transport.send_many([message_factory(n) for n in range(4)])
        await transport.send_many([message_factory(n) for n in range(4, 8)])
        await transport.close()
        assert server.connections == 2
        assert len(server.handler.received) == 8

    async def test_reconnects_every_n_messages(
        self, start_smtp: Callable[..., Any], message_factory: Callable[..., Message]
    ) -> None:
        """With reconnect_every=3, ten messages on one connection open four connections."""
        server = start_smtp()
        transport = transport_for(server.port, pool_size=1, reconnect_every=3)
        results = await transport.send_many([message_factory(n) for n in range(10)])
        await transport.close()
        assert all(isinstance(result, Sent) for result in results)
        assert server.connections == 4

    async def test_rate_limit_paces_sending(
        self, start_smtp: Callable[..., Any], message_factory: Callable[..., Message]
    ) -> None:
        """A limiter of 20/s with a burst of 1 makes 6 messages take at least 0.25 s."""
        server = start_smtp()
        transport = transport_for(server.port, limiter=TokenBucket(20, burst=1))
        start = time.monotonic()
        await transport.send_many([message_factory(n) for n in range(6)])
        await transport.close()
        assert time.monotonic() - start >= 0.24


class TestFailures:
    async def test_replies_are_classified_per_recipient(
        self, start_smtp: Callable[..., Any], message_factory: Callable[..., Message]
    ) -> None:
        """550 at RCPT is a bounce, 451 and 421 transient, 552/554 permanent non-bounces."""
        server = start_smtp()
        recipients = ["ok@a.org", "bounce@a.org", "busy@a.org", "close@a.org"]
        recipients += ["big@a.org", "spam@a.org"]
        messages = [message_factory(n, to=to) for n, to in enumerate(recipients)]
        transport = transport_for(server.port, pool_size=2)
        results = await transport.send_many(messages)
        await transport.close()
        assert isinstance(results[0], Sent)
        assert results[1] == Permanent("550 5.1.1 no such user", bounce=True)
        assert isinstance(results[2], Transient)
        assert results[2].reason.startswith("451")
        assert isinstance(results[3], Transient)
        assert results[3].reason.startswith("421")
        assert results[4] == Permanent("552 5.3.4 message too big", bounce=False)
        assert results[5] == Permanent("554 5.7.1 rejected as spam", bounce=False)

    @pytest.mark.parametrize("pipelined", [True, False])
    async def test_refused_sender_fails_without_suppressing_the_reader(
        self,
        start_smtp: Callable[..., Any],
        message_factory: Callable[..., Message],
        pipelined: bool,
    ) -> None:
        """A 550 5.1.1 to MAIL FROM is about our sender: permanent, but not the reader's bounce."""
        server = pipelining_server(start_smtp) if pipelined else start_smtp()
        messages = [message_factory(0, from_address="refused@clippost.test")]
        messages.append(message_factory(1))
        transport = transport_for(server.port, pool_size=1)
        results = await transport.send_many(messages)
        await transport.close()
        assert results[0] == Permanent("550 5.1.1 sender address rejected", bounce=False)
        assert isinstance(results[1], Sent)

    @pytest.mark.parametrize("failing", ["busy@a.org", "bounce@a.org", "close@a.org"])
    async def test_no_503_cascade_after_a_failure(
        self,
        start_smtp: Callable[..., Any],
        message_factory: Callable[..., Message],
        failing: str,
    ) -> None:
        """After a refused transaction, the next messages on the same connection are sent."""
        server = start_smtp()
        messages = [message_factory(0, to=failing)]
        messages += [message_factory(n) for n in range(1, 4)]
        transport = transport_for(server.port, pool_size=1)
        results = await transport.send_many(messages)
        await transport.close()
        assert not isinstance(results[0], Sent)
        assert all(isinstance(result, Sent) for result in results[1:])
        assert len(server.handler.received) == 3

    async def test_mixed_load_delivers_every_good_message(
        self, start_smtp: Callable[..., Any], message_factory: Callable[..., Message]
    ) -> None:
        """With 30% transient and 5% bounced recipients, every other message is sent."""
        server = start_smtp()
        kinds = ["busy"] * 3 + ["ok"] * 7  # by n % 10: 30% answered 451
        messages = [
            message_factory(n, to=f"{'bounce' if n % 20 == 9 else kinds[n % 10]}{n}@a.org")
            for n in range(200)
        ]
        transport = transport_for(server.port, pool_size=4)
        results = await transport.send_many(messages)
        await transport.close()
        for message, result in zip(messages, results, strict=True):
            if message.to.startswith("bounce"):
                assert result == Permanent("550 5.1.1 no such user", bounce=True)
            elif message.to.startswith("busy"):
                assert isinstance(result, Transient)
            else:
                assert isinstance(result, Sent)

    async def test_server_down_then_up(
        self,
        start_smtp: Callable[..., Any],
        message_factory: Callable[..., Message],
        unused_port: int,
    ) -> None:
        """With the server down every message is Transient (nothing raises); once it is
        up, the same transport object sends."""
        transport = transport_for(unused_port, pool_size=2, timeout=2)
        messages = [message_factory(n) for n in range(5)]
        down = await transport.send_many(messages)
        assert all(isinstance(result, Transient) for result in down)
        server = start_smtp(port=unused_port)
        up = await transport.send_many(messages)
        await transport.close()
        assert all(isinstance(result, Sent) for result in up)
        assert len(server.handler.received) == 5

    async def test_unbuildable_message_is_permanent(
        self, start_smtp: Callable[..., Any], message_factory: Callable[..., Message]
    ) -> None:
        """An unsafe recipient address is a permanent bounce and is never sent."""
        server = start_smtp()
        transport = transport_for(server.port)
        results = await transport.send_many([message_factory(0, to="a@b.org\r\nRCPT TO:<c@d>")])
        await transport.close()
        assert isinstance(results[0], Permanent)
        assert results[0].bounce
        assert server.handler.received == []


class TestSecurity:
    @pytest.mark.parametrize("mechanism", ["LOGIN", "PLAIN"])
    async def test_starttls_with_auth(
        self,
        start_smtp: Callable[..., Any],
        message_factory: Callable[..., Message],
        server_tls: ssl.SSLContext,
        client_tls: ssl.SSLContext,
        authenticator_factory: Callable[[str, str], Any],
        mechanism: str,
    ) -> None:
        """STARTTLS then AUTH (LOGIN or PLAIN) with the configured user delivers."""
        authenticator = authenticator_factory("mailer", "s3cret")
        other = "PLAIN" if mechanism == "LOGIN" else "LOGIN"
        server = start_smtp(
            tls_context=server_tls,
            require_starttls=True,
            authenticator=authenticator,
            auth_required=True,
            auth_exclude_mechanism=[other],
        )
        transport = transport_for(
            server.port,
            security="starttls",
            tls_context=client_tls,
            username="mailer",
            password="s3cret",
        )
        results = await transport.send_many([message_factory(1)])
        await transport.close()
        assert results == [Sent(provider_id="2.0.0 OK queued")]
        assert authenticator.mechanisms == [mechanism]

    async def test_wrong_password_is_transient(
        self,
        start_smtp: Callable[..., Any],
        message_factory: Callable[..., Message],
        server_tls: ssl.SSLContext,
        client_tls: ssl.SSLContext,
        authenticator_factory: Callable[[str, str], Any],
    ) -> None:
        """A refused login is a configuration problem: Transient, so no mail is lost."""
        server = start_smtp(
            tls_context=server_tls,
            require_starttls=True,
            authenticator=authenticator_factory("mailer", "s3cret"),
            auth_required=True,
        )
        transport = transport_for(
            server.port,
            security="starttls",
            tls_context=client_tls,
            username="mailer",
            password="wrong",
        )
        results = await transport.send_many([message_factory(1)])
        await transport.close()
        assert isinstance(results[0], Transient)
        assert "535" in results[0].reason
        assert server.handler.received == []

    async def test_implicit_tls(
        self,
        start_smtp: Callable[..., Any],
        message_factory: Callable[..., Message],
        server_tls: ssl.SSLContext,
        client_tls: ssl.SSLContext,
    ) -> None:
        """security="tls" speaks TLS from the first byte."""
        server = start_smtp(ssl_context=server_tls)
        transport = transport_for(server.port, security="tls", tls_context=client_tls)
        results = await transport.send_many([message_factory(1)])
        await transport.close()
        assert isinstance(results[0], Sent)
        assert len(server.handler.received) == 1

    async def test_untrusted_certificate_is_refused(
        self,
        start_smtp: Callable[..., Any],
        message_factory: Callable[..., Message],
        server_tls: ssl.SSLContext,
    ) -> None:
        """A certificate the client does not trust means Transient and nothing sent."""
        server = start_smtp(tls_context=server_tls, require_starttls=True)
        transport = transport_for(server.port, security="starttls")
        results = await transport.send_many([message_factory(1)])
        await transport.close()
        assert isinstance(results[0], Transient)
        assert server.handler.received == []


def pipelining_server(start_smtp: Callable[..., Any]) -> Any:
    return start_smtp(handler=Pipelining())


class TestPipelining:
    async def test_pipelined_batch_arrives_intact(
        self, start_smtp: Callable[..., Any], message_factory: Callable[..., Message]
    ) -> None:
        """On a server offering PIPELINING, MAIL, RCPT and DATA go together and every
        message parses back identically."""
        server = pipelining_server(start_smtp)
        messages = [message_factory(n) for n in range(30)]
        transport = transport_for(server.port, pool_size=3)
        try:
            results = await transport.send_many(messages)
        finally:
            await transport.close()
        assert all(isinstance(result, Sent) for result in results)
        assert server.handler.grouped == [True] * 30
        # Each body carries the next message's envelope, but the last of each connection.
        assert server.handler.carried.count(True) == 30 - 3
        assert server.connections == 3
        by_id = {parsed(env)["Message-ID"]: parsed(env) for env in server.handler.received}
        for message in messages:
            got = by_id[message.message_id]
            assert got["Subject"] == message.subject
            assert got["To"] == message.to
            assert server.handler.received[0].mail_from == message.from_address
            plain, html = (p.get_content().replace("\r\n", "\n") for p in got.iter_parts())
            assert (plain, html) == (message.text, message.html)

    async def test_under_a_rate_limit_each_body_goes_alone(
        self, start_smtp: Callable[..., Any], message_factory: Callable[..., Message]
    ) -> None:
        """With a rate limit, a body is not held back for the next message's turn: it goes
        alone, still after a pipelined MAIL, RCPT and DATA."""
        server = pipelining_server(start_smtp)
        transport = transport_for(server.port, pool_size=1, limiter=TokenBucket(1000))
        results = await transport.send_many([message_factory(n) for n in range(4)])
        await transport.close()
        assert all(isinstance(result, Sent) for result in results)
        assert server.handler.grouped == [True] * 4
        assert server.handler.carried == [False] * 4

    async def test_server_without_pipelining_gets_one_command_at_a_time(
        self, start_smtp: Callable[..., Any], message_factory: Callable[..., Message]
    ) -> None:
        """A server that does not offer PIPELINING is sent each command after the last reply."""
        handler = Pipelining()
        server = start_smtp(handler=handler)
        transport = transport_for(server.port, pipelining=False)
        results = await transport.send_many([message_factory(n) for n in range(5)])
        await transport.close()
        assert all(isinstance(result, Sent) for result in results)
        assert handler.grouped == [False] * 5

    async def test_replies_are_classified_per_recipient(
        self, start_smtp: Callable[..., Any], message_factory: Callable[..., Message]
    ) -> None:
        """Pipelined, 550 at RCPT is a bounce, 451 and 421 transient, 552/554 permanent."""
        server = pipelining_server(start_smtp)
        recipients = ["ok@a.org", "bounce@a.org", "busy@a.org", "close@a.org"]
        recipients += ["big@a.org", "spam@a.org", "ok2@a.org"]
        messages = [message_factory(n, to=to) for n, to in enumerate(recipients)]
        transport = transport_for(server.port, pool_size=1)
        results = await transport.send_many(messages)
        await transport.close()
        assert isinstance(results[0], Sent)
        assert results[1] == Permanent("550 5.1.1 no such user", bounce=True)
        assert results[2] == Transient("451 4.3.0 try again later")
        assert results[3] == Transient("421 4.3.2 closing, come back later")
        assert results[4] == Permanent("552 5.3.4 message too big", bounce=False)
        assert results[5] == Permanent("554 5.7.1 rejected as spam", bounce=False)
        assert isinstance(results[6], Sent)
        # The 421 is the only reason to open a second connection.
        assert server.connections == 2

    async def test_refused_mail_is_judged_by_its_own_reply(
        self, start_smtp: Callable[..., Any], message_factory: Callable[..., Message]
    ) -> None:
        """When MAIL is refused, the result is MAIL's reply (not the 503s that follow for RCPT
        and DATA) and the next message on the connection is sent."""
        server = pipelining_server(start_smtp)
        messages = [message_factory(0, from_address="deferred@clippost.test")]
        messages += [message_factory(n) for n in range(1, 4)]
        transport = transport_for(server.port, pool_size=1)
        results = await transport.send_many(messages)
        await transport.close()
        assert results[0] == Transient("451 4.3.0 sender deferred")
        assert all(isinstance(result, Sent) for result in results[1:])
        assert server.connections == 1
        assert len(server.handler.received) == 3

    @pytest.mark.parametrize("failing", ["busy@a.org", "bounce@a.org", "close@a.org"])
    async def test_no_503_cascade_after_a_failure(
        self,
        start_smtp: Callable[..., Any],
        message_factory: Callable[..., Message],
        failing: str,
    ) -> None:
        """Pipelined, after a refused transaction the next messages on the connection are sent."""
        server = pipelining_server(start_smtp)
        messages = [message_factory(0, to=failing)]
        messages += [message_factory(n) for n in range(1, 4)]
        transport = transport_for(server.port, pool_size=1)
        results = await transport.send_many(messages)
        await transport.close()
        assert not isinstance(results[0], Sent)
        assert all(isinstance(result, Sent) for result in results[1:])
        assert len(server.handler.received) == 3

    async def test_mixed_load_delivers_every_good_message_once(
        self, start_smtp: Callable[..., Any], message_factory: Callable[..., Message]
    ) -> None:
        """Pipelined, with 30% 421/451 and 5% 550 recipients, every good message arrives
        exactly once and every other one gets the result its reply calls for."""
        server = pipelining_server(start_smtp)
        kinds = ["busy", "close", "busy"] + ["ok"] * 7  # by n % 10: 30% answered 451 or 421
        messages = [
            message_factory(n, to=f"{'bounce' if n % 20 == 9 else kinds[n % 10]}{n}@a.org")
            for n in range(300)
        ]
        transport = transport_for(server.port, pool_size=4)
        results = await transport.send_many(messages)
        await transport.close()
        for message, result in zip(messages, results, strict=True):
            if message.to.startswith("bounce"):
                assert result == Permanent("550 5.1.1 no such user", bounce=True)
            elif message.to.startswith("busy"):
                assert result == Transient("451 4.3.0 try again later")
            elif message.to.startswith("close"):
                assert result == Transient("421 4.3.2 closing, come back later")
            else:
                assert isinstance(result, Sent)
        received = [parsed(env)["Message-ID"] for env in server.handler.received]
        good = [m.message_id for m in messages if m.to.startswith("ok")]
        assert sorted(received) == sorted(good)

    async def test_reconnects_every_n_messages(
        self, start_smtp: Callable[..., Any], message_factory: Callable[..., Message]
    ) -> None:
        """Pipelined, reconnect_every=3 over ten messages opens four connections."""
        server = pipelining_server(start_smtp)
        transport = transport_for(server.port, pool_size=1, reconnect_every=3)
        results = await transport.send_many([message_factory(n) for n in range(10)])
        await transport.close()
        assert all(isinstance(result, Sent) for result in results)
        assert server.connections == 4

    async def test_starttls_with_auth_then_pipelining(
        self,
        start_smtp: Callable[..., Any],
        message_factory: Callable[..., Message],
        server_tls: ssl.SSLContext,
        client_tls: ssl.SSLContext,
        authenticator_factory: Callable[[str, str], Any],
    ) -> None:
        """After aiosmtplib's STARTTLS and AUTH, transactions are pipelined inside TLS."""
        handler = Pipelining()
        server = start_smtp(
            handler=handler,
            tls_context=server_tls,
            require_starttls=True,
            authenticator=authenticator_factory("mailer", "s3cret"),
            auth_required=True,
        )
        transport = transport_for(
            server.port,
            security="starttls",
            tls_context=client_tls,
            username="mailer",
            password="s3cret",
        )
        results = await transport.send_many([message_factory(n) for n in range(3)])
        await transport.close()
        assert all(isinstance(result, Sent) for result in results)
        assert len(handler.received) == 3


class TestPipeliningRecovery:
    async def test_354_after_a_refused_recipient_drops_the_connection(
        self, raw_smtp: Callable[..., Any], message_factory: Callable[..., Message]
    ) -> None:
        """A server that answers DATA with 354 although RCPT was refused is never sent the
        body: RCPT's reply decides, and the next message goes on a fresh connection."""
        refused = {"first": True}

        def script(line: bytes) -> bytes | None:
            if line.startswith(b"RCPT") and refused.pop("first", False):
                return b"550 5.1.1 no such user\r\n"
            return None

        server = await raw_smtp(script)
        transport = transport_for(server.port, pool_size=1)
        results = await transport.send_many([message_factory(n) for n in range(2)])
        await transport.close()
        assert results[0] == Permanent("550 5.1.1 no such user", bounce=True)
        assert isinstance(results[1], Sent)
        assert len(server.bodies) == 1
        assert server.connections == 2

    @pytest.mark.parametrize("pipelining", [True, False])
    async def test_503_is_never_held_against_the_message(
        self,
        raw_smtp: Callable[..., Any],
        message_factory: Callable[..., Message],
        pipelining: bool,
    ) -> None:
        """A 503 "sender already specified" means the session is out of step: the message
        is Transient (never failed), and the next one goes on a fresh connection."""
        server: Any = None

        def script(line: bytes) -> bytes | None:
            if line.startswith(b"MAIL") and server.connections == 1:
                return b"503 5.5.1 Error: nested MAIL command\r\n"
            if line.startswith(b"RCPT") and server.connections == 1:
                return b"503 5.5.1 Error: need MAIL command\r\n"
            if line == b"DATA" and server.connections == 1:
                return b"503 5.5.1 Error: need RCPT command\r\n"
            return None

        server = await raw_smtp(script)
        transport = transport_for(server.port, pool_size=1, pipelining=pipelining)
        results = await transport.send_many([message_factory(n) for n in range(2)])
        await transport.close()
        assert results[0] == Transient(
            "unexpected SMTP reply: 503 5.5.1 Error: nested MAIL command"
        )
        assert isinstance(results[1], Sent)
        assert server.connections == 2

    async def test_positive_reply_out_of_place_is_transient(
        self, raw_smtp: Callable[..., Any], message_factory: Callable[..., Message]
    ) -> None:
        """DATA answered 250 instead of 354 is never taken for a delivery: the message is
        Transient, no body is sent, and the next message goes on a fresh connection."""
        odd = {"first": True}

        def script(line: bytes) -> bytes | None:
            if line == b"DATA" and odd.pop("first", False):
                return b"250 2.0.0 OK\r\n"
            return None

        server = await raw_smtp(script)
        transport = transport_for(server.port, pool_size=1)
        results = await transport.send_many([message_factory(n) for n in range(2)])
        await transport.close()
        assert results[0] == Transient("unexpected SMTP reply: 250 2.0.0 OK")
        assert isinstance(results[1], Sent)
        assert len(server.bodies) == 1
        assert server.connections == 2

    async def test_refused_data_start_sends_no_body_then_rset(
        self, raw_smtp: Callable[..., Any], message_factory: Callable[..., Message]
    ) -> None:
        """DATA answered 451 means no body is sent; RSET follows and the connection goes on."""
        refused = {"first": True}

        def script(line: bytes) -> bytes | None:
            if line == b"DATA" and refused.pop("first", False):
                return b"451 4.3.0 not now\r\n"
            return None

        server = await raw_smtp(script)
        transport = transport_for(server.port, pool_size=1)
        results = await transport.send_many([message_factory(n) for n in range(2)])
        await transport.close()
        assert results[0] == Transient("451 4.3.0 not now")
        assert isinstance(results[1], Sent)
        assert len(server.bodies) == 1
        assert server.connections == 1
        verbs = [command.split(b" ")[0] for command in server.commands]
        assert verbs[:5] == [b"EHLO", b"MAIL", b"RCPT", b"DATA", b"RSET"]

    async def test_refused_rset_drops_the_connection(
        self, raw_smtp: Callable[..., Any], message_factory: Callable[..., Message]
    ) -> None:
        """When RSET itself is refused, the next message goes on a fresh connection."""

        def script(line: bytes) -> bytes | None:
            if line == b"RSET":
                return b"500 what\r\n"
            if line.startswith(b"RCPT TO:<bounce"):
                return b"550 5.1.1 no such user\r\n"
            if line == b"DATA" and b"bounce" in server.commands[-2]:
                return b"503 5.5.1 no valid recipients\r\n"
            return None

        server = await raw_smtp(script)
        transport = transport_for(server.port, pool_size=1)
        messages = [message_factory(0, to="bounce@a.org"), message_factory(1)]
        results = await transport.send_many(messages)
        await transport.close()
        assert results[0] == Permanent("550 5.1.1 no such user", bounce=True)
        assert isinstance(results[1], Sent)
        assert server.connections == 2

    async def test_reply_out_of_turn_means_a_fresh_connection(
        self, raw_smtp: Callable[..., Any], message_factory: Callable[..., Message]
    ) -> None:
        """A reply nobody asked for, arriving while the connection is idle (a server's 421
        before it closes), is never paired with a later command: the next batch goes on a
        new connection."""
        replies = {"first": True}

        def script(line: bytes) -> bytes | None:
            if line == b"<body>" and replies.pop("first", False):
                return b"250 2.0.0 OK\r\n421 4.4.2 idle, closing\r\n"
            return None

        server = await raw_smtp(script)
        transport = transport_for(server.port, pool_size=1)
        first = await transport.send_many([message_factory(0)])
        then = await transport.send_many([message_factory(n) for n in range(1, 3)])
        await transport.close()
        assert all(isinstance(result, Sent) for result in [*first, *then])
        assert server.connections == 2
        assert len(server.bodies) == 3

    async def test_421_right_after_a_body_defers_only_the_next_message(
        self, raw_smtp: Callable[..., Any], message_factory: Callable[..., Message]
    ) -> None:
        """A 421 that comes with the reply to a body is the next message's MAIL reply as far
        as anyone can tell: that message is deferred, never failed, and the rest are sent
        on a new connection."""
        replies = {"first": True}

        def script(line: bytes) -> bytes | None:
            if line == b"<body>" and replies.pop("first", False):
                return b"250 2.0.0 OK\r\n421 4.4.2 shutting down\r\n"
            return None

        server = await raw_smtp(script)
        transport = transport_for(server.port, pool_size=1)
        results = await transport.send_many([message_factory(n) for n in range(4)])
        await transport.close()
        assert isinstance(results[0], Sent)
        assert results[1] == Transient("421 4.4.2 shutting down")
        assert all(isinstance(result, Sent) for result in results[2:])
        assert server.connections == 2

    async def test_hang_up_after_accepting_a_body_keeps_it_sent(
        self, raw_smtp: Callable[..., Any], message_factory: Callable[..., Message]
    ) -> None:
        """A server that accepts a body and hangs up: that message is Sent (never sent
        twice), and the next one, whose envelope went with it, is sent on a new connection."""
        server: Any = None

        def script(line: bytes) -> bytes | None:
            if line == b"<body>" and server.connections == 1:
                return b"250 2.0.0 OK\r\n" + HANG_UP
            return None

        server = await raw_smtp(script)
        transport = transport_for(server.port, pool_size=1)
        results = await transport.send_many([message_factory(n) for n in range(3)])
        await transport.close()
        assert all(isinstance(result, Sent) for result in results)
        assert len(server.bodies) == 3
        assert server.connections == 2

    async def test_421_to_a_body_defers_it_and_sends_the_next_anew(
        self, raw_smtp: Callable[..., Any], message_factory: Callable[..., Message]
    ) -> None:
        """421 to a body is Transient; the next message, whose envelope went with that body,
        is sent on a new connection rather than deferred."""
        server: Any = None

        def script(line: bytes) -> bytes | None:
            if line == b"<body>" and server.connections == 1:
                return b"421 4.3.2 shutting down\r\n" + HANG_UP
            return None

        server = await raw_smtp(script)
        transport = transport_for(server.port, pool_size=1)
        results = await transport.send_many([message_factory(n) for n in range(3)])
        await transport.close()
        assert results[0] == Transient("421 4.3.2 shutting down")
        assert all(isinstance(result, Sent) for result in results[1:])
        assert server.connections == 2

    async def test_refused_body_does_not_stop_the_next_message(
        self, raw_smtp: Callable[..., Any], message_factory: Callable[..., Message]
    ) -> None:
        """A body refused with 554 fails that message only; the next transaction, already
        on the wire, goes through on the same connection."""
        refused = {"first": True}

        def script(line: bytes) -> bytes | None:
            if line == b"<body>" and refused.pop("first", False):
                return b"554 5.7.1 rejected as spam\r\n"
            return None

        server = await raw_smtp(script)
        transport = transport_for(server.port, pool_size=1)
        results = await transport.send_many([message_factory(n) for n in range(3)])
        await transport.close()
        assert results[0] == Permanent("554 5.7.1 rejected as spam", bounce=False)
        assert all(isinstance(result, Sent) for result in results[1:])
        assert server.connections == 1

    async def test_interrupted_session_is_never_reused(
        self, raw_smtp: Callable[..., Any], message_factory: Callable[..., Message]
    ) -> None:
        """A send cancelled mid-transaction (a worker shutting down) closes that connection:
        the next batch goes on a new one, never into the half-done transaction."""
        server: Any = None

        def script(line: bytes) -> bytes | None:
            if line[:4] in (b"MAIL", b"RCPT", b"DATA") and server.connections == 1:
                return b""  # no reply at all: the client is left waiting
            return None

        server = await raw_smtp(script)
        transport = transport_for(server.port, pool_size=1, timeout=2)
        sending = asyncio.create_task(transport.send_many([message_factory(0)]))
        while b"DATA" not in server.commands:
            await asyncio.sleep(0.01)
        sending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sending
        results = await transport.send_many([message_factory(1)])
        await transport.close()
        assert isinstance(results[0], Sent)
        assert server.connections == 2
        assert len(server.bodies) == 1

    async def test_multiline_and_split_replies(
        self, raw_smtp: Callable[..., Any], message_factory: Callable[..., Message]
    ) -> None:
        """Multiline replies are read whole: a refusal spread over lines is one reply."""

        def script(line: bytes) -> bytes | None:
            if line.startswith(b"RCPT TO:<bounce"):
                return b"550-5.1.1 no such user\r\n550-here\r\n550 5.1.1 really\r\n"
            if line == b"DATA" and b"bounce" in server.commands[-2]:
                return b"554 5.5.1 no valid recipients\r\n"
            return None

        server = await raw_smtp(script)
        transport = transport_for(server.port, pool_size=1)
        messages = [message_factory(0, to="bounce@a.org"), message_factory(1)]
        results = await transport.send_many(messages)
        await transport.close()
        assert results[0] == Permanent("550 5.1.1 no such user\nhere\n5.1.1 really", bounce=True)
        assert isinstance(results[1], Sent)
        assert server.connections == 1

    async def test_silent_server_times_out_transient(
        self, raw_smtp: Callable[..., Any], message_factory: Callable[..., Message]
    ) -> None:
        """A server that stops answering makes the message Transient and the next one use
        a fresh connection."""
        server: Any = None

        def script(line: bytes) -> bytes | None:
            # On the first connection, nothing more after the first body.
            if server.connections == 1 and (line == b"<body>" or server.bodies):
                return b""
            return None

        server = await raw_smtp(script)
        transport = transport_for(server.port, pool_size=1, timeout=0.3)
        results = await transport.send_many([message_factory(n) for n in range(2)])
        await transport.close()
        assert isinstance(results[0], Transient)
        assert "timed out" in results[0].reason
        assert isinstance(results[1], Sent)
        assert server.connections == 2

    async def test_refused_data_with_421_means_a_fresh_connection(
        self, raw_smtp: Callable[..., Any], message_factory: Callable[..., Message]
    ) -> None:
        """421 to DATA is transient and the next message goes on a new connection."""
        server: Any = None

        def script(line: bytes) -> bytes | None:
            if line == b"DATA" and server.connections == 1:
                return b"421 4.3.2 going away\r\n"
            return None

        server = await raw_smtp(script)
        transport = transport_for(server.port, pool_size=1)
        results = await transport.send_many([message_factory(n) for n in range(2)])
        await transport.close()
        assert results[0] == Transient("421 4.3.2 going away")
        assert isinstance(results[1], Sent)
        assert server.connections == 2

    async def test_hang_up_after_the_body_is_transient(
        self, raw_smtp: Callable[..., Any], message_factory: Callable[..., Message]
    ) -> None:
        """A server that hangs up instead of answering the body leaves the message Transient;
        the next message is sent on a new connection."""
        server: Any = None

        def script(line: bytes) -> bytes | None:
            if line == b"<body>" and server.connections == 1:
                return HANG_UP
            return None

        server = await raw_smtp(script)
        transport = transport_for(server.port, pool_size=1)
        results = await transport.send_many([message_factory(n) for n in range(2)])
        await transport.close()
        assert isinstance(results[0], Transient)
        assert results[0].reason.startswith("SMTP connection failed")
        assert isinstance(results[1], Sent)
        assert server.connections == 2
