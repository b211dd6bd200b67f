"""SmtpTransport against a real aiosmtpd server on loopback."""

from __future__ import annotations

import email
import email.message
import email.policy
import ssl
import time
from collections.abc import Callable
from typing import Any

import pytest

from clippost.transports.base import Message, Permanent, Sent, Transient
from clippost.transports.ratelimit import TokenBucket
from clippost.transports.smtp import SmtpTransport, classify_reply


def transport_for(port: int, **kwargs: Any) -> SmtpTransport:
    options: dict[str, Any] = {"host": "127.0.0.1", "port": port, "security": "none"}
    options.update(kwargs)
    return SmtpTransport(**options)


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
