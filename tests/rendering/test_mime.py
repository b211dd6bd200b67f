"""build_mime: what it writes parses back identically with the stdlib, and nothing injects."""

from __future__ import annotations

import binascii
import email
import email.message
import email.policy
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clippost.mail import Message, Permanent, Transient
from clippost.rendering import mime
from clippost.rendering.headers import InvalidAddress, clean, clean_phrase
from clippost.rendering.mime import _qp, build_mime, canonical_lines, refusal


def make_message(**overrides: object) -> Message:
    values: dict[str, object] = {
        "message_id": "<0123abcd.1@clippost.test>",
        "from_address": "news@clippost.test",
        "from_name": "Clippost",
        "to": "reader@example.org",
        "subject": "Your highlights",
        "text": "Hello,\n\nA highlight.\n",
        "html": "<p>Hello,</p>\n<p>A highlight.</p>\n",
        "date": datetime(2026, 11, 22, 7, 30, 15, tzinfo=UTC),
        "headers": {
            "List-Unsubscribe": "<https://clippost.test/u/t>, <mailto:u@clippost.test?subject=t>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    }
    values.update(overrides)
    return Message(**values)  # type: ignore[arg-type]


def parse(raw: bytes) -> email.message.EmailMessage:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, email.message.EmailMessage)
    return parsed


def bodies(parsed: email.message.EmailMessage) -> tuple[str, str]:
    plain, html = (part.get_content().replace("\r\n", "\n") for part in parsed.iter_parts())
    return plain, html


def lines_as_read(text: str) -> str:
    """A body as any reader sees it: a lone CR or LF is a line break like CRLF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def assert_wire_rules(raw: bytes) -> None:
    assert raw.isascii()
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert b"\r" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) < 998


class TestStructure:
    def test_multipart_alternative_text_then_html(self) -> None:
        """The message is multipart/alternative with text/plain first, then text/html."""
        parsed = parse(build_mime(make_message()))
        assert parsed.get_content_type() == "multipart/alternative"
        types = [part.get_content_type() for part in parsed.iter_parts()]
        assert types == ["text/plain", "text/html"]
        assert all(part.get_content_charset() == "utf-8" for part in parsed.iter_parts())

    def test_required_headers_parse_back(self) -> None:
        """From, To, Subject, Date, Message-ID and MIME-Version read back as given."""
        message = make_message()
        parsed = parse(build_mime(message))
        assert parsed["From"].addresses[0].display_name == "Clippost"
        assert parsed["From"].addresses[0].addr_spec == "news@clippost.test"
        assert parsed["To"].addresses[0].addr_spec == "reader@example.org"
        assert parsed["Subject"] == "Your highlights"
        assert parsed["Date"].datetime == message.date
        assert parsed["Message-ID"] == message.message_id
        assert parsed["MIME-Version"] == "1.0"
        assert not parsed.defects

    def test_list_unsubscribe_headers_pass_through(self) -> None:
        """Custom headers such as List-Unsubscribe arrive exactly as given."""
        message = make_message()
        parsed = parse(build_mime(message))
        for name, value in message.headers.items():
            assert parsed[name] == value

    def test_crlf_line_endings_ascii_only(self) -> None:
        """Every line ends in CRLF and every byte is ASCII."""
        assert_wire_rules(build_mime(make_message(text="a\nb\rc\r\nd", html="é\n" * 3)))

    def test_date_keeps_its_offset(self) -> None:
        """The Date header is RFC 5322 in the message date's own offset."""
        moment = datetime(2026, 3, 1, 23, 59, 1, tzinfo=timezone(timedelta(hours=-3, minutes=-30)))
        raw = build_mime(make_message(date=moment))
        assert b"Date: Sun, 01 Mar 2026 23:59:01 -0330\r\n" in raw
        assert parse(raw)["Date"].datetime == moment

    def test_naive_date_is_refused(self) -> None:
        """A naive date is a programming error."""
        with pytest.raises(ValueError, match="timezone-aware"):
            build_mime(make_message(date=datetime(2026, 1, 1)))


class TestEncodings:
    def test_ascii_body_stays_7bit(self) -> None:
        """Plain ASCII with short lines goes as 7bit, readable as is."""
        raw = build_mime(make_message(text="Hello there\n"))
        assert b"Content-Transfer-Encoding: 7bit\r\n\r\nHello there\r\n" in raw

    def test_mostly_ascii_goes_quoted_printable(self) -> None:
        """A body with a few accents goes quoted-printable."""
        raw = build_mime(make_message(text="Café au lait, " * 20))
        assert b"Content-Transfer-Encoding: quoted-printable\r\n\r\nCaf=C3=A9" in raw

    def test_dense_non_latin_goes_base64(self) -> None:
        """A body mostly in another script goes base64, where quoted-printable would triple it."""
        text = "吾輩は猫である。名前はまだ無い。" * 30
        raw = build_mime(make_message(text=text))
        assert b"Content-Transfer-Encoding: base64" in raw
        assert bodies(parse(raw))[0] == text

    def test_long_line_is_wrapped_and_restored(self) -> None:
        """A 5,000-character line is wrapped on the wire and reads back whole."""
        text = "x" * 5000
        raw = build_mime(make_message(text=text, html="<p>" + "y" * 5000 + "</p>"))
        assert_wire_rules(raw)
        assert bodies(parse(raw)) == (text, "<p>" + "y" * 5000 + "</p>")

    def test_boundary_lookalike_in_body_is_harmless(self) -> None:
        """A body containing the boundary text itself does not split the message."""
        parsed = parse(build_mime(make_message()))
        boundary = parsed.get_boundary()
        assert boundary is not None
        text = f"--{boundary}\n--{boundary}--\n"
        assert bodies(parse(build_mime(make_message(text=text))))[0] == text

    def test_control_characters_in_body_survive(self) -> None:
        """NUL and other controls in a body are encoded, not sent raw."""
        raw = build_mime(make_message(text="a\x00b\x1bc"))
        assert b"\x00" not in raw
        assert bodies(parse(raw))[0] == "a\x00b\x1bc"


class TestHeaderSafety:
    def test_crlf_in_subject_cannot_add_a_header(self) -> None:
        """CR/LF in a subject never starts a new header line."""
        raw = build_mime(make_message(subject="Hi\r\nBcc: victim@example.org\nX-Evil: 1"))
        parsed = parse(raw)
        assert parsed["Bcc"] is None
        assert parsed["X-Evil"] is None
        assert parsed["Subject"] == "Hi Bcc: victim@example.org X-Evil: 1"

    def test_crlf_in_display_name_cannot_add_a_header(self) -> None:
        """CR/LF in the From display name never starts a new header line."""
        parsed = parse(build_mime(make_message(from_name="Ann\r\nBcc: v@example.org")))
        assert parsed["Bcc"] is None
        assert parsed["From"].addresses[0].display_name == "Ann Bcc: v@example.org"

    def test_crlf_in_custom_header_value_cannot_add_a_header(self) -> None:
        """CR/LF in a custom header value never starts a new header line."""
        parsed = parse(build_mime(make_message(headers={"List-Id": "x\r\nBcc: v@e.org"})))
        assert parsed["Bcc"] is None
        assert parsed["List-Id"] == "x Bcc: v@e.org"

    @pytest.mark.parametrize("name", ["Bad Name", "Bad:Name", "", "X-\u00e9", "X\r\nBcc"])
    def test_bad_header_name_is_refused(self, name: str) -> None:
        """A header name outside RFC 5322 field-name syntax raises ValueError."""
        with pytest.raises(ValueError, match="field name"):
            build_mime(make_message(headers={name: "v"}))

    @pytest.mark.parametrize("name", ["Subject", "to", "Content-Type", "MIME-Version"])
    def test_structural_header_cannot_be_overridden(self, name: str) -> None:
        """A custom header may not replace one build_mime writes itself."""
        with pytest.raises(ValueError, match="build_mime"):
            build_mime(make_message(headers={name: "v"}))

    @pytest.mark.parametrize(
        "address", ["a@b.org\r\nBcc: c@d.org", "a b@c.org", "<a@b.org>", "a@b.org,c@d.org", ""]
    )
    def test_unsafe_recipient_is_refused(self, address: str) -> None:
        """A recipient that could carry a header or an SMTP command raises InvalidAddress."""
        with pytest.raises(InvalidAddress):
            build_mime(make_message(to=address))

    @pytest.mark.parametrize("message_id", ["no-brackets@x", "<a b@x>", "<a@x>\r\nBcc: v"])
    def test_malformed_message_id_is_refused(self, message_id: str) -> None:
        """A malformed Message-ID is a programming error."""
        with pytest.raises(ValueError, match="Message-ID"):
            build_mime(make_message(message_id=message_id))

    def test_display_name_with_specials_is_quoted(self) -> None:
        """A display name with a comma and quotes reads back as one name."""
        parsed = parse(build_mime(make_message(from_name='Clip "Post", Ltd <x@y.z>')))
        assert len(parsed["From"].addresses) == 1
        assert parsed["From"].addresses[0].display_name == 'Clip "Post", Ltd <x@y.z>'

    def test_non_ascii_display_name_reads_back(self) -> None:
        """A display name in another script, with spaces, reads back exactly."""
        name = "Антуан де Сент-Экзюпери · 小王子の読者 · 𝄞 Müller-Lüdenscheidt"
        parsed = parse(build_mime(make_message(from_name=name)))
        assert parsed["From"].addresses[0].display_name == name

    @pytest.mark.parametrize(
        "text",
        ["word " * 300, "x" * 1500, "é" * 700, 'a "quoted", name ' * 60],
        ids=["many-words", "one-long-word", "long-non-ascii", "long-quoted"],
    )
    def test_long_subject_and_name_stay_under_998(self, text: str) -> None:
        """Very long subjects and names are folded under 998 octets and read back."""
        raw = build_mime(make_message(subject=text, from_name=text))
        assert_wire_rules(raw)
        parsed = parse(raw)
        assert parsed["Subject"] == clean(text)
        assert parsed["From"].addresses[0].display_name.replace(" ", "") == clean_phrase(
            text
        ).replace(" ", "")

    def test_encoded_word_lookalike_is_not_decoded(self) -> None:
        """A subject that looks like an encoded-word reads back literally."""
        subject = "=?utf-8?b?SGk=?= there"
        assert parse(build_mime(make_message(subject=subject)))["Subject"] == subject


class TestRefusal:
    def test_unusable_recipient_is_a_bounce(self) -> None:
        """An unusable recipient address is a permanent bounce."""
        message = make_message(to="a b@c.org")
        with pytest.raises(InvalidAddress) as caught:
            build_mime(message)
        assert refusal(caught.value, message) == Permanent(str(caught.value), bounce=True)

    def test_unusable_sender_waits_for_the_operator(self) -> None:
        """An unusable sender address is configuration: transient, no reader suppressed."""
        message = make_message(from_address="news@")
        with pytest.raises(InvalidAddress) as caught:
            build_mime(message)
        assert isinstance(refusal(caught.value, message), Transient)

    def test_programming_error_fails(self) -> None:
        """A bad header name fails the message without a bounce."""
        message = make_message(headers={"Bad Name": "x"})
        with pytest.raises(ValueError, match="field name") as caught:
            build_mime(message)
        result = refusal(caught.value, message)
        assert isinstance(result, Permanent)
        assert not result.bounce


printable_header_text = st.text(
    st.characters(blacklist_categories=("Cs",)),  # lone surrogates cannot be encoded at all
    max_size=300,
)
any_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=3000)
line_starts = st.lists(
    st.sampled_from([".", "From ", "..", "=", "--", " ", "x" * 1200, "é", "𝄞", "\r", "\n"]),
    max_size=30,
).map("".join)


class TestRoundTrip:
    @given(subject=printable_header_text, name=printable_header_text)
    def test_any_subject_and_name_parse_back(self, subject: str, name: str) -> None:
        """Any unicode subject and display name reads back as its cleaned form, no defects."""
        raw = build_mime(make_message(subject=subject, from_name=name))
        assert_wire_rules(raw)
        parsed = parse(raw)
        assert parsed["Subject"] == clean(subject)
        addresses = parsed["From"].addresses
        assert len(addresses) == 1
        if all(len(word.encode()) <= 45 for word in clean_phrase(name).split(" ")):
            assert addresses[0].display_name == clean_phrase(name)
        else:  # the stdlib keeps the space between two encoded-words of one long word
            assert addresses[0].display_name.replace(" ", "") == clean_phrase(name).replace(" ", "")
        assert addresses[0].addr_spec == "news@clippost.test"
        assert not parsed.defects

    @given(text=any_text | line_starts, html=any_text | line_starts)
    def test_any_body_parses_back(self, text: str, html: str) -> None:
        """Any unicode text and HTML, long lines, dots, From and non-BMP, reads back."""
        message = make_message(text=text, html=html)
        raw = build_mime(message)
        assert_wire_rules(raw)
        parsed = parse(raw)
        assert bodies(parsed) == (lines_as_read(text), lines_as_read(html))
        assert parsed["Message-ID"] == message.message_id
        assert not any(part.defects for part in parsed.iter_parts())

    @given(value=printable_header_text)
    def test_any_custom_header_value_stays_one_header(self, value: str) -> None:
        """Any value of a custom header, CR and LF included, is exactly one header."""
        raw = build_mime(make_message(headers={"List-Id": value, "Auto-Submitted": "no"}))
        head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
        names = [line.split(":", 1)[0] for line in re.split(r"\r\n(?![ \t])", head)]
        assert names == [
            "From",
            "To",
            "Subject",
            "Date",
            "Message-ID",
            "List-Id",
            "Auto-Submitted",
            "MIME-Version",
            "Content-Type",
        ]
        assert parse(raw)["List-Id"] == clean(value)


def _whole_part(body: str) -> bytes:
    """The HTML part as encoding the whole canonical body writes it (7bit, quoted-printable
    or base64, chosen as build_mime chooses)."""
    canonical = canonical_lines(body)
    data = canonical.encode("utf-8", "replace")
    head = 'Content-Type: text/html; charset="utf-8"\r\nContent-Transfer-Encoding: {}\r\n\r\n'
    seven_bit = (
        canonical.isascii()
        and b"=_" not in data
        and max(map(len, canonical.split("\r\n"))) < 998
        and not data.translate(None, mime._7BIT_OK)
    )
    if seven_bit:
        return head.format("7bit").encode("ascii") + data
    if canonical.isascii() or (len(data) - len(canonical)) * 6 < len(data):
        encoded = binascii.b2a_qp(data, istext=True)
        if b"\n" not in data:
            encoded = encoded.replace(b"\n", b"\r\n")
        return head.format("quoted-printable").encode("ascii") + encoded
    return head.format("base64").encode("ascii") + mime._base64(data)


qp_lines = st.lists(
    st.sampled_from(["", ".", " ", "\t", "=", "x" * 75, "x" * 76, "é" * 30, "a b ", "<p>", "\x00"]),
    max_size=40,
).map("".join)


class TestQuotedPrintable:
    @given(text=any_text | line_starts | qp_lines)
    def test_line_at_a_time_is_what_b2a_qp_writes(self, text: str) -> None:
        """The encoder with its cache of lines writes exactly what b2a_qp writes for the whole."""
        lines = mime._LineCache(8)
        for body in (text, text + "\n"):  # a body that ends a line is encoded a line at a time
            data = canonical_lines(body).encode("utf-8", "replace")
            expected = binascii.b2a_qp(data, istext=True)
            if b"\n" not in data:
                expected = expected.replace(b"\n", b"\r\n")
            assert _qp(data) == expected
            assert _qp(data, lines) == expected
            assert _qp(data, lines) == expected  # the second time from the cache

    @given(texts=st.lists(any_text | line_starts | qp_lines, min_size=1, max_size=6))
    def test_html_part_is_the_whole_body_encoded(self, texts: list[str]) -> None:
        """An HTML part, split at its LFs without being made canonical first and its lines
        taken from a cache shared by several bodies (small enough to turn over), is what
        encoding its canonical body whole writes, in whichever transfer encoding it gets."""
        shared = mime._LineCache(4)
        original, mime._HTML_LINES = mime._HTML_LINES, shared
        try:
            for text in texts:
                for body in (text, text + "\n", "é\n" + text + "\n"):
                    assert mime._part("html", body) == _whole_part(body)
        finally:
            mime._HTML_LINES = original

    def test_transfer_encoding_weighs_the_lines_found_in_the_cache(self) -> None:
        """A body dense in another script goes base64 also when its lines come from the
        cache, from either generation, where their UTF-8 was never made again."""
        shared = mime._LineCache(2)
        original, mime._HTML_LINES = mime._HTML_LINES, shared
        try:
            dense = "吾輩は猫である\n<p>\n"
            light = "<p>\n" + "Café\n" * 3 + "<p>\n"
            # "a\nb\n" turns the generation over: dense's lines are then found in the
            # previous one.
            for body in (dense, dense, "a\nb\n", dense, light, dense, light):
                assert mime._part("html", body) == _whole_part(body)
            assert b"base64" in mime._part("html", dense)
        finally:
            mime._HTML_LINES = original

    def test_cache_of_lines_stays_bounded(self) -> None:
        """Lines that never recur (the readers' own) do not grow the cache without end."""
        lines = mime._LineCache(100)
        for n in range(50):
            _qp(b"".join(b"line %d of body %d\r\n" % (k, n) for k in range(30)), lines)
        assert len(lines.current) + len(lines.previous) <= 200

    def test_lines_every_body_has_stay_in_the_cache(self) -> None:
        """A line in every body survives any number of lines that come once."""
        lines = mime._LineCache(100)
        layout = b'<td style="padding:0">\xc3\xa9</td>'
        for n in range(500):
            _qp(layout + b"\r\n" + b"reader line %d\r\n" % n, lines)
        assert layout in lines.current or layout in lines.previous
