"""A small, safe reader of Lua table literals: KOReader's sidecars are data, never code.

It reads `return { ... }` (comments allowed anywhere), tables with `["key"] = v`, `[1] = v`,
`name = v` and positional entries, strings in every Lua form (quoted with every escape,
or long brackets), numbers (decimal, hexadecimal, exponents), booleans and nil. Anything
else (a function call, an operator, a variable) is an error, not something evaluated.
Nesting is bounded and so is the input's size, so a hostile file costs bounded time.
Tables become dicts (positional entries get the keys 1, 2, ...).
"""

from __future__ import annotations

import re
from typing import Any

MAX_DEPTH = 64
MAX_CHARS = 32 * 1024 * 1024

_SPACE_OR_COMMENT = re.compile(r"(?:\s+|--\[(=*)\[.*?\]\1\]|--[^\n]*)*", re.DOTALL)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(
    r"0[xX](?:[0-9a-fA-F]+(?:\.[0-9a-fA-F]*)?|\.[0-9a-fA-F]+)(?:[pP][+-]?\d+)?"
    r"|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
)
_LONG_OPEN = re.compile(r"\[(=*)\[")
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_ESCAPES.update({"\\": "\\", '"': '"', "'": "'", "\n": "\n"})
_KEYWORDS = {"true": True, "false": False, "nil": None}
# The common cases in one match each: `["key"] =` and a string without escapes.
_SIMPLE_KEY = re.compile(r'\[[ \t]*"([^"\\\n]*)"[ \t]*\][ \t]*=')
_SIMPLE_STRING = re.compile(r'"([^"\\\n]*)"')
# What ends a run of plain characters inside a quoted string.
_SPECIAL = {'"': re.compile(r'["\\\n]'), "'": re.compile(r"['\\\n]")}


class LuaError(ValueError):
    """The text is not a Lua table literal (or is past the size and depth limits)."""


def loads(text: str) -> Any:
    """The value `text` returns: `return <value>`, or a bare value."""
    if len(text) > MAX_CHARS:
        raise LuaError("the file is too large")
    reader = _Reader(text.lstrip("\ufeff"))
    reader.skip()
    if reader.text.startswith("return", reader.at) and not _is_name_char(reader.peek(6)):
        reader.at += 6
    value = reader.value(0)
    reader.skip()
    if reader.peek() == ";":
        reader.at += 1
        reader.skip()
    if reader.at != len(reader.text):
        raise LuaError(f"unexpected text at character {reader.at}")
    return value


def _joined(parts: list[str | bytes]) -> str:
    """A string's pieces as text; byte escapes are decoded together as UTF-8."""
    if all(isinstance(part, str) for part in parts):
        return "".join(parts)  # type: ignore[arg-type]
    data = b"".join(part.encode() if isinstance(part, str) else part for part in parts)
    return data.decode("utf-8", "replace")


def _is_name_char(char: str) -> bool:
    return char.isalnum() or char == "_"


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0

    def peek(self, offset: int = 0) -> str:
        index = self.at + offset
        return self.text[index] if index < len(self.text) else ""

    def skip(self) -> None:
        match = _SPACE_OR_COMMENT.match(self.text, self.at)
        if match:
            self.at = match.end()

    def value(self, depth: int) -> Any:
        self.skip()
        char = self.peek()
        if not char:
            raise LuaError("the text ends where a value was expected")
        if char == "{":
            return self.table(depth + 1)
        if char == '"' and (simple := _SIMPLE_STRING.match(self.text, self.at)):
            self.at = simple.end()
            return simple.group(1)
        if char in "\"'":
            return self.quoted(char)
        if char == "[" and _LONG_OPEN.match(self.text, self.at):
            return self.long_string()
        if char == "-":
            self.at += 1
            self.skip()
            number = self.number()
            return -number
        if char.isdigit() or (char == "." and self.peek(1).isdigit()):
            return self.number()
        name = _NAME.match(self.text, self.at)
        if name and name.group() in _KEYWORDS:
            self.at = name.end()
            return _KEYWORDS[name.group()]
        raise LuaError(f"a value was expected at character {self.at}")

    def table(self, depth: int) -> dict[Any, Any]:
        if depth > MAX_DEPTH:
            raise LuaError("tables are nested too deeply")
        self.at += 1  # "{"
        result: dict[Any, Any] = {}
        index = 1
        while True:
            self.skip()
            if self.peek() == "}":
                self.at += 1
                return result
            key, value = self.field(depth)
            if key is None:
                key, index = index, index + 1
            if value is not None:
                result[key] = value
            self.skip()
            char = self.peek()
            if char and char in ",;":
                self.at += 1
            elif char != "}":
                raise LuaError(f"',' or '}}' was expected at character {self.at}")

    def field(self, depth: int) -> tuple[Any, Any]:
        simple = _SIMPLE_KEY.match(self.text, self.at)
        if simple is not None:
            self.at = simple.end()
            return simple.group(1), self.value(depth)
        if self.peek() == "[" and not _LONG_OPEN.match(self.text, self.at):
            self.at += 1
            key = self.value(depth)
            self.skip()
            self.expect("]")
            self.skip()
            self.expect("=")
            return key, self.value(depth)
        name = _NAME.match(self.text, self.at)
        if name and name.group() not in _KEYWORDS:
            after = _SPACE_OR_COMMENT.match(self.text, name.end())
            rest = after.end() if after else name.end()
            if self.text.startswith("=", rest) and not self.text.startswith("==", rest):
                self.at = rest + 1
                return name.group(), self.value(depth)
        return None, self.value(depth)

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise LuaError(f"{char!r} was expected at character {self.at}")
        self.at += 1

    def number(self) -> int | float:
        match = _NUMBER.match(self.text, self.at)
        if match is None:
            raise LuaError(f"a number was expected at character {self.at}")
        self.at = match.end()
        token = match.group()
        if token[:2] in ("0x", "0X"):
            if "." in token or "p" in token.lower():
                return float.fromhex(token)
            return int(token, 16)
        if any(c in token for c in ".eE"):
            return float(token)
        return int(token)

    def quoted(self, quote: str) -> str:
        self.at += 1
        parts: list[str | bytes] = []
        text = self.text
        while True:
            end = self._next_special(quote)
            parts.append(text[self.at : end])
            self.at = end
            char = self.peek()
            if char == quote:
                self.at += 1
                return _joined(parts)
            if char in ("", "\n"):  # (a tuple: "" is not "in" it by accident)
                raise LuaError("a string is not closed")
            parts.append(self.escape())

    def _next_special(self, quote: str) -> int:
        # One regex search, which stops at the first match: three str.find calls would
        # each scan to the end of the file when a character does not occur again.
        found = _SPECIAL[quote].search(self.text, self.at)
        return found.start() if found else len(self.text)

    def escape(self) -> str | bytes:
        self.at += 1  # the backslash
        char = self.peek()
        if char and char in _ESCAPES:
            self.at += 1
            if char == "\n" and self.peek() == "\r":
                self.at += 1
            return _ESCAPES[char]
        if char == "\r":
            self.at += 2 if self.peek(1) == "\n" else 1
            return "\n"
        if char == "z":
            self.at += 1
            while self.peek().isspace():
                self.at += 1
            return ""
        if char == "x":
            return self._code(self.text[self.at + 1 : self.at + 3], 16, 3)
        if char == "u":
            return self._unicode()
        if char.isdigit():
            digits = re.match(r"\d{1,3}", self.text[self.at : self.at + 3])
            assert digits is not None  # char is a digit
            return self._code(digits.group(), 10, len(digits.group()))
        raise LuaError(f"an unknown escape at character {self.at}")

    def _code(self, digits: str, base: int, width: int) -> bytes:
        try:
            value = int(digits, base)
        except ValueError as exc:
            raise LuaError(f"a bad escape at character {self.at}") from exc
        if base == 16 and len(digits) != 2:
            raise LuaError(f"a bad escape at character {self.at}")
        if value > 255:
            raise LuaError(f"a bad escape at character {self.at}")
        self.at += width
        # Lua strings are bytes: \ddd and \xXX are bytes (of UTF-8, in practice).
        return bytes([value])

    def _unicode(self) -> str:
        match = re.match(r"u\{([0-9a-fA-F]{1,8})\}", self.text[self.at : self.at + 11])
        if match is None:
            raise LuaError(f"a bad \\u escape at character {self.at}")
        value = int(match.group(1), 16)
        if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
            raise LuaError(f"a bad \\u escape at character {self.at}")
        self.at += match.end()
        return chr(value)

    def long_string(self) -> str:
        match = _LONG_OPEN.match(self.text, self.at)
        assert match is not None
        close = "]" + match.group(1) + "]"
        end = self.text.find(close, match.end())
        if end < 0:
            raise LuaError("a long string is not closed")
        body = self.text[match.end() : end]
        self.at = end + len(close)
        # A newline right after the opening bracket is not part of the string.
        return body[1:] if body.startswith("\n") else body
