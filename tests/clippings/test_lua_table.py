"""The safe reader of Lua table literals: every literal form, and nothing that runs."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clippost.clippings.formats import lua_table
from clippost.clippings.formats.lua_table import LuaError, loads


class TestLiterals:
    def test_keys_positional_entries_and_nesting(self) -> None:
        """["key"] =, name =, [1] = and positional entries, nested, trailing separators."""
        assert loads('return { ["a"] = 1, b = { 10, 20; }, [7] = "x", "first", }') == {
            "a": 1,
            "b": {1: 10, 2: 20},
            7: "x",
            1: "first",
        }

    @pytest.mark.parametrize(
        ("literal", "value"),
        [
            (r'"tab\tnew\nline"', "tab\tnew\nline"),
            (r'"quote \" and \\ backslash"', 'quote " and \\ backslash'),
            ("'single \\' quote'", "single ' quote"),
            ('"line one\\\nline two"', "line one\nline two"),  # KOReader's newlines
            (r'"\65\066\x43"', "ABC"),
            (r'"\195\169t\xC3\xA9"', "été"),  # UTF-8 written byte by byte
            (r'"\u{48}\u{20AC}"', "H€"),
            ('"skip \\z   \n   spaces"', "skip spaces"),
            (r'"\a\b\f\r\v"', "\a\b\f\r\v"),
            ("[[long\nstring]]", "long\nstring"),
            ("[==[\nwith ]] inside]==]", "with ]] inside"),
        ],
    )
    def test_strings(self, literal: str, value: str) -> None:
        """Every way Lua writes a string reads to its text."""
        assert loads(f"return {literal}") == value

    @pytest.mark.parametrize(
        ("literal", "value"),
        [("42", 42), ("-7", -7), ("3.25", 3.25), ("1e3", 1000.0), ("0x1F", 31), ("-.5", -0.5)],
    )
    def test_numbers(self, literal: str, value: float) -> None:
        """Integers, floats, exponents, hexadecimal and negatives."""
        assert loads(f"return {literal}") == value

    def test_booleans_and_nil(self) -> None:
        """true and false read as booleans; a nil value leaves its key out."""
        assert loads("return { a = true, b = false, c = nil }") == {"a": True, "b": False}

    def test_comments_anywhere(self) -> None:
        """Line and long comments before, inside and after the table are skipped."""
        text = "-- path\n--[[ long\n comment ]] return { --[==[ x ]==] a = 1 -- end\n } -- tail"
        assert loads(text) == {"a": 1}

    def test_bare_table_without_return(self) -> None:
        """A table written without `return` is read too."""
        assert loads('{ "x" }') == {1: "x"}


class TestNothingRuns:
    @pytest.mark.parametrize(
        "text",
        [
            'return { a = os.execute("ls") }',
            "return { a = b }",
            "return { a = 1 + 2 }",
            "return function() end",
            "return { a = 1 } x = 2",
            'return { a = "not closed }',
            "return { a = 1",
            "return { [[ ] = 1 }",
            r'return "\q"',
            r'return "\300"',
        ],
    )
    def test_anything_but_a_literal_is_an_error(self, text: str) -> None:
        """Calls, variables, operators and broken literals are refused, never evaluated."""
        with pytest.raises(LuaError):
            loads(text)

    def test_depth_is_bounded(self) -> None:
        """Tables nested deeper than the limit are refused."""
        depth = lua_table.MAX_DEPTH + 1
        with pytest.raises(LuaError, match="nested"):
            loads("return " + "{" * depth + "}" * depth)

    def test_size_is_bounded(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A text beyond the size limit is refused before it is read."""
        monkeypatch.setattr(lua_table, "MAX_CHARS", 10)
        with pytest.raises(LuaError, match="too large"):
            loads("return { 1, 2, 3, 4 }")

    @settings(max_examples=200, deadline=None)
    @given(st.text(alphabet="{}[]=\"'\\,;-=0123456789.abcxzntu \n", max_size=60))
    def test_any_text_reads_or_is_refused(self, text: str) -> None:
        """Any text gives a value or a LuaError, nothing else."""
        with contextlib.suppress(LuaError):
            loads(text)
