"""MaildirTransport and ConsoleTransport: real files, a real stream."""

from __future__ import annotations

import email
import email.policy
import io
import mailbox
from collections.abc import Callable
from pathlib import Path

from clippost.mail import Message, Permanent, Sent, Transient
from clippost.transports.console import ConsoleTransport
from clippost.transports.maildir import MaildirTransport


class TestMaildirTransport:
    async def test_messages_land_in_new_and_parse(
        self, tmp_path: Path, message_factory: Callable[..., Message]
    ) -> None:
        """Each message is one file in new/, readable by the stdlib mailbox module."""
        messages = [message_factory(n) for n in range(3)]
        transport = MaildirTransport(tmp_path / "mail", fsync=False)
        results = await transport.send_many(messages)
        assert all(isinstance(result, Sent) for result in results)
        assert {p.name for p in (tmp_path / "mail").iterdir()} == {"cur", "new", "tmp"}
        assert list((tmp_path / "mail" / "tmp").iterdir()) == []
        files = sorted((tmp_path / "mail" / "new").iterdir())
        assert len(files) == 3
        ids = {
            email.message_from_bytes(f.read_bytes(), policy=email.policy.default)["Message-ID"]
            for f in files
        }
        assert ids == {message.message_id for message in messages}
        assert len(mailbox.Maildir(tmp_path / "mail", create=False)) == 3

    async def test_names_are_unique(
        self, tmp_path: Path, message_factory: Callable[..., Message]
    ) -> None:
        """The same message sent 50 times makes 50 files, with fsync on."""
        transport = MaildirTransport(tmp_path, fsync=True)
        await transport.send_many([message_factory(1)] * 50)
        assert len(list((tmp_path / "new").iterdir())) == 50

    async def test_unsafe_message_is_not_written(
        self, tmp_path: Path, message_factory: Callable[..., Message]
    ) -> None:
        """A message that cannot be built safely is Permanent and writes nothing."""
        transport = MaildirTransport(tmp_path, fsync=False)
        results = await transport.send_many([message_factory(1, to="x@y.org\nBcc: z@w.org")])
        assert isinstance(results[0], Permanent)
        assert list((tmp_path / "new").iterdir()) == []

    async def test_unwritable_folder_is_transient(
        self, tmp_path: Path, message_factory: Callable[..., Message]
    ) -> None:
        """A Maildir that cannot be created (a file is in the way) is Transient."""
        (tmp_path / "mail").write_text("not a folder")
        results = await MaildirTransport(tmp_path / "mail", fsync=False).send_many(
            [message_factory(1)]
        )
        assert isinstance(results[0], Transient)


class TestConsoleTransport:
    async def test_prints_summary_and_text(self, message_factory: Callable[..., Message]) -> None:
        """The console shows recipient, subject, Message-ID and the text part."""
        stream = io.StringIO()
        message = message_factory(4)
        results = await ConsoleTransport(stream).send_many([message])
        output = stream.getvalue()
        assert isinstance(results[0], Sent)
        assert "To: reader4@example.org" in output
        assert f"Subject: {message.subject}" in output
        assert message.message_id in output
        assert message.text.strip() in output
