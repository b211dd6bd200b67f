"""smtp_pipeline: the body as it goes after DATA, and the Channel's reading of replies over a
real loopback connection."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clippost.transports.smtp_pipeline import Channel, ChannelError, Reply, data_block


def as_server_reads(block: bytes) -> tuple[bytes, bytes]:
    """What a lenient server takes as the message, and what follows its end of data: any
    CR or LF ends a line, a line of a single "." ends the data, a leading dot is removed."""
    lines = block.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    for number, line in enumerate(lines):
        if line == b".":
            kept = [part[1:] if part.startswith(b".") else part for part in lines[:number]]
            return b"\r\n".join(kept), b"\n".join(lines[number + 1 :])
    raise AssertionError("no end of data")


class TestDataBlock:
    @given(st.lists(st.sampled_from([b".", b"..", b"x", b" ", b"\r\n"])).map(b"".join))
    def test_canonical_wire_skips_only_the_counts(self, wire: bytes) -> None:
        """For a wire whose every CR and LF is a CRLF (what build_mime writes), the block
        without the line-ending check is the block with it."""
        assert data_block(wire, canonical=True) == data_block(wire)

    def test_leading_dots_are_doubled(self) -> None:
        """A line starting with "." gets a second one, the first line included."""
        assert data_block(b".a\r\nb\r\n.\r\n..c\r\n") == b"..a\r\nb\r\n..\r\n...c\r\n.\r\n"

    def test_missing_final_line_break_is_added(self) -> None:
        """The end of data always follows a CRLF."""
        assert data_block(b"a\r\nb") == b"a\r\nb\r\n.\r\n"

    def test_bare_line_breaks_cannot_end_the_data(self) -> None:
        """A bare LF or CR before a dot is made a CRLF first, so the dot is stuffed."""
        block = data_block(b"a\n.\nb\r.\rc\r\n")
        assert block == b"a\r\n..\r\nb\r\n..\r\nc\r\n.\r\n"
        assert as_server_reads(block) == (b"a\r\n.\r\nb\r\n.\r\nc", b"")

    @given(
        st.binary(max_size=400)
        | st.lists(st.sampled_from([b".", b"\r", b"\n", b"x"])).map(b"".join)
    )
    def test_any_message_ends_only_at_its_end(self, wire: bytes) -> None:
        """Whatever the bytes, a server reads the whole message back and nothing after it."""
        body, rest = as_server_reads(data_block(wire))
        expected = wire.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
        assert body == expected.removesuffix(b"\r\n")
        assert rest == b""


Script = Sequence[bytes]


@contextlib.asynccontextmanager
async def scripted_peer(
    chunks: Script, *, close: bool = False, timeout: float = 2.0
) -> AsyncIterator[Channel]:
    """A loopback server that, once it has read a line, writes `chunks` one by one (each its
    own write), then closes if asked; yields a Channel connected to it."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            await reader.readline()
            for chunk in chunks:
                writer.write(chunk)
                await writer.drain()
                await asyncio.sleep(0.01)
            if close:
                writer.close()
                return
            await reader.read()  # until the client hangs up
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_connection(asyncio.Protocol, "127.0.0.1", port)
    channel = Channel(transport, timeout=timeout)
    try:
        yield channel
    finally:
        channel.close()
        server.close()


class TestChannel:
    async def test_replies_split_over_writes_are_read_whole(self) -> None:
        """Three replies arriving in pieces, one of them multiline, come back as three."""
        chunks = [
            b"25",
            b"0 2.1.0 ok\r\n250-first\r\n250",
            b"-second\r\n250 last\r\n3",
            b"54 go\r\n",
        ]
        async with scripted_peer(chunks) as channel:
            replies = await channel.exchange(b"MAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\n", 3)
            assert replies == [
                Reply(250, "2.1.0 ok"),
                Reply(250, "first\nsecond\nlast"),
                Reply(354, "go"),
            ]
            assert channel.usable

    async def test_reply_nobody_asked_for_makes_it_unusable(self) -> None:
        """A reply beyond those asked for is never handed to the next command."""
        async with scripted_peer([b"250 ok\r\n421 4.4.2 idle\r\n"]) as channel:
            assert await channel.exchange(b"RSET\r\n", 1) == [Reply(250, "ok")]
            assert not channel.usable
            with pytest.raises(ChannelError):
                await channel.exchange(b"NOOP\r\n", 1)

    @pytest.mark.parametrize(
        "garbage", [b"hello there\r\n", b"25 short\r\n", b"250-a\r\n251 b\r\n"]
    )
    async def test_malformed_reply_breaks_the_channel(self, garbage: bytes) -> None:
        """Something that is not an SMTP reply raises ChannelError and is never used again."""
        async with scripted_peer([garbage]) as channel:
            with pytest.raises(ChannelError, match="malformed"):
                await channel.exchange(b"NOOP\r\n", 1)
            assert not channel.usable

    async def test_server_hanging_up_raises(self) -> None:
        """A connection closed before all replies came raises ChannelError."""
        async with scripted_peer([b"250 ok\r\n"], close=True) as channel:
            with pytest.raises(ChannelError):
                await channel.exchange(b"MAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\n", 2)
            assert not channel.usable

    async def test_silence_times_out(self) -> None:
        """A server that never answers raises ChannelError after the timeout."""
        async with scripted_peer([], timeout=0.2) as channel:
            with pytest.raises(ChannelError, match="timed out"):
                await channel.exchange(b"NOOP\r\n", 1)
            assert not channel.usable
