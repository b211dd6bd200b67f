"""Bytes to text: BOMs, UTF-8, Windows-1252 fallback, binary rejected."""

from __future__ import annotations

import codecs

from clippost.clippings.decoding import decode, piece_ends

TEXT = "Ärger – “quoted” 読書\n"


class TestDecode:
    def test_utf8_bom_is_removed(self) -> None:
        """A UTF-8 BOM is dropped and the rest decoded as UTF-8."""
        assert decode(codecs.BOM_UTF8 + TEXT.encode()) == TEXT

    def test_plain_utf8(self) -> None:
        """UTF-8 without a BOM decodes as UTF-8."""
        assert decode(TEXT.encode()) == TEXT

    def test_utf16_le_with_bom(self) -> None:
        """UTF-16 little-endian with its BOM decodes."""
        assert decode(codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le")) == TEXT

    def test_utf16_be_with_bom(self) -> None:
        """UTF-16 big-endian with its BOM decodes."""
        assert decode(codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be")) == TEXT

    def test_cp1252_fallback(self) -> None:
        """Text that is not UTF-8 but plausible is read as Windows-1252."""
        assert decode("Café – “Zitat”".encode("cp1252")) == "Café – “Zitat”"

    def test_nul_bytes_are_binary(self) -> None:
        """Bytes with NULs are not text."""
        assert decode(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR") is None

    def test_control_characters_are_binary(self) -> None:
        """Bytes full of control characters are not text."""
        assert decode(bytes(range(1, 9)) * 50) is None

    def test_binary_behind_a_bom_is_rejected(self) -> None:
        """A BOM followed by control characters is still not text."""
        assert decode(codecs.BOM_UTF8 + b"\x01\x02\x03\x04" * 100) is None

    def test_invalid_utf8_after_bom_is_replaced(self) -> None:
        """A bad byte in a UTF-8 file marked by its BOM becomes U+FFFD, not an error."""
        assert decode(codecs.BOM_UTF8 + b"ab\xffcd") == "ab\ufffdcd"

    def test_empty_bytes_are_empty_text(self) -> None:
        """No bytes decode to the empty string (the caller says the file is empty)."""
        assert decode(b"") == ""


class TestPieces:
    def test_cuts_after_separator_lines(self) -> None:
        """Pieces end just after a separator line and cover the whole input."""
        data = b"a\r\n==========\r\nb\n==========\nc\n"
        assert piece_ends(data, 1) == [15, 28, len(data)]

    def test_separator_followed_by_text_is_not_a_cut(self) -> None:
        """A line that starts with ten "=" but goes on is not a separator."""
        data = b"a\n==========x\nb\n==========\nc\n"
        assert piece_ends(data, 1) == [27, len(data)]

    def test_small_input_is_one_piece(self) -> None:
        """Input smaller than the piece size is one piece."""
        assert piece_ends(b"a\n==========\n", 1000) == [13]

    def test_utf16_is_one_piece(self) -> None:
        """UTF-16 text cannot be cut on bytes and stays whole."""
        data = codecs.BOM_UTF16_LE + "a\n==========\nb\n==========\n".encode("utf-16-le")
        assert piece_ends(data, 1) == [len(data)]

    def test_tidy_line_ends_and_inner_bom(self) -> None:
        """Inner U+FEFF is removed and CRLF and lone CR become LF."""
        assert decode(b"\xef\xbb\xbfa\r\n\xef\xbb\xbfb\rc\n") == "a\nb\nc\n"
