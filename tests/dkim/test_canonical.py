"""Relaxed canonicalisation, checked against dkimpy's own implementation."""

from __future__ import annotations

from dkim.canonicalization import Relaxed
from hypothesis import given
from hypothesis import strategies as st

from clippost.dkim.canonical import (
    crlf_only,
    header_fields,
    relaxed_body,
    relaxed_header,
    split_message,
)

_LINE = st.text(alphabet=" \tab=.:<>", max_size=12).map(str.encode)


class TestRelaxedBody:
    @given(st.lists(_LINE, max_size=8), st.booleans())
    def test_agrees_with_dkimpy(self, lines: list[bytes], final_break: bool) -> None:
        """Any body of spaces, tabs and text canonicalises as dkimpy does it."""
        body = b"\r\n".join(lines) + (b"\r\n" if final_break else b"")
        assert relaxed_body(body) == Relaxed.canonicalize_body(body)

    def test_trailing_blank_lines_go(self) -> None:
        """Empty and whitespace-only lines at the end are dropped, one CRLF ends the body."""
        assert relaxed_body(b"a  b \t\r\n \r\n\r\n") == b"a b\r\n"

    def test_empty_body_stays_empty(self) -> None:
        """An empty body canonicalises to nothing (not to a lone CRLF)."""
        assert relaxed_body(b"") == b""
        assert relaxed_body(b"\r\n\r\n") == b""


class TestRelaxedHeader:
    @given(
        st.sampled_from([b"Subject", b"FROM", b"List-Unsubscribe"]),
        st.lists(_LINE.filter(lambda v: v.strip(b" \t") != b""), min_size=1, max_size=3),
    )
    def test_agrees_with_dkimpy(self, name: bytes, pieces: list[bytes]) -> None:
        """A header, folded or not, canonicalises as dkimpy does it."""
        value = b"\r\n ".join(pieces)
        ((expected_name, expected_value),) = Relaxed.canonicalize_headers([(name, value)])
        assert relaxed_header(name + b":" + value) == expected_name + b":" + expected_value

    def test_unfolds_and_lowers(self) -> None:
        """The name is lower-cased, the value unfolded, spaces squeezed and trimmed."""
        assert (
            relaxed_header(b"Subject : Your\r\n \t highlights  ") == b"subject:Your highlights\r\n"
        )


class TestSplitting:
    def test_fields_keep_their_folds_and_order(self) -> None:
        """Header fields are found by lower-case name, folded lines kept with them."""
        head, body = split_message(b"To: a\r\nSubject: x\r\n y\r\nTo: b\r\n\r\nbody\r\n")
        assert body == b"body\r\n"
        assert header_fields(head) == {
            b"to": [b"To: a", b"To: b"],
            b"subject": [b"Subject: x\r\n y"],
        }

    def test_bare_line_breaks_become_crlf(self) -> None:
        """A lone LF or CR is made a CRLF, as the SMTP transport sends it."""
        assert crlf_only(b"a\nb\rc\r\n") == b"a\r\nb\r\nc\r\n"
        clean = b"a\r\nb\r\n"
        assert crlf_only(clean) is clean
