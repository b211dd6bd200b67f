"""Stencils: a template rendered once per shape, then filled in per message by one join.

A digest's HTML is 12 KB of which the reader's own values (passages, titles, links, dates)
are a small part; Jinja walks the whole template for every message, escaping and yielding
as it goes, and that was most of the sender's rendering time. A stencil renders the template
once with a marker in place of each of the reader's strings, and splits the output at the
markers: what is left are the static parts, in the reader's language and the operator's
words, exactly as the template wrote them. Filling one is joining those parts with the
message's strings (escaped for HTML, as autoescaping would have).

What a template may do with a hole (a string of the message) is limited to printing it as it
is, testing it for truth (`{% if p.note %}`), and passing it to `_()`: a filter would change
the marker, so compiling raises StencilError instead of producing a wrong email. (What does
not print the marker at all cannot be caught: a test of a hole's length or value, or a
filter such as `length`. The digest's templates say so at their top; the golden emails in
tests/rendering hold their output byte for byte.) What the
template tests decides its output, so it is part of the stencil's key: the truth of every
hole, and the exact value of everything else in the message's context (booleans, numbers,
lengths of lists), and the statics (site, labels, locale), which are passed to the template
as they are. A digest has a few dozen shapes per language (how many passages, which have a
note, a link to the whole passage, a favourite); each is compiled the first time it occurs.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Hashable, Iterable, Mapping
from operator import attrgetter
from typing import Any

from jinja2 import Template
from markupsafe import Markup

# Private-use delimiters around the hole's number, with letters of both cases, a bidi
# override, and a space ending a line: `lines`, `wrap`, `one_line`, `plain`, `upper`,
# `lower`, `trim` and the like each change a marker, so a filtered hole does not go
# unnoticed. Escaping leaves a Markup marker alone.
_OPEN, _CLOSE = "\ue000Hh", "\u202e \n\ue001"
_MARKER = re.compile(f"{_OPEN}(\\d+){_CLOSE}")
_MAX_SHAPES = 1024  # per template and language: a digest has a few dozen; 12 MB at most


class StencilError(ValueError):
    """The template does something with a hole other than print it or test it."""


class _Hole:
    """The shape key's entry for a non-empty string: its value is the message's."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "HOLE"


HOLE = _Hole()


def flatten(values: Mapping[str, Any]) -> tuple[tuple[Any, ...], list[str]]:
    """The shape key of `values` and its holes (the non-empty strings), in walk order."""
    key: list[Any] = []
    holes: list[str] = []
    _walk(values.values(), key, holes)
    return tuple(key), holes


def _walk(items: Iterable[Any], key: list[Any], holes: list[str]) -> None:
    # Leaves are handled in the loop, containers by recursion: a digest is a hundred values
    # in a dozen containers, and a call per value cost as much as the rest of the fill.
    for value in items:
        kind = type(value)
        if kind is str or kind is Markup:
            if value:
                key.append(HOLE)
                holes.append(value)
            else:
                key.append("")
        elif value is None or kind is bool or kind is int:
            key.append(value)
        elif kind is list or kind is tuple:
            key.append(len(value))
            _walk(value, key, holes)
        elif (getter := _FIELDS.get(kind)) is not None or dataclasses.is_dataclass(value):
            # The getter first: is_dataclass is a Python call, and a digest walks a few
            # dozen dataclasses (its passages, labels, site) in every message.
            _walk((getter or _fields(kind))(value), key, holes)
        else:
            raise TypeError(f"a stencil's values are text, numbers, lists or dataclasses: {kind}")


_FIELDS: dict[type, Callable[[Any], tuple[Any, ...]]] = {}


def _fields(kind: type) -> Callable[[Any], tuple[Any, ...]]:
    """A function giving a dataclass's field values, in order (one C call)."""
    getter = _FIELDS.get(kind)
    if getter is None:
        names = [field.name for field in dataclasses.fields(kind)]
        getter = _FIELDS[kind] = attrgetter(*names) if len(names) > 1 else _single(names[0])
    return getter


def _single(name: str) -> Callable[[Any], tuple[Any, ...]]:
    return lambda value: (getattr(value, name),)


def _probe(value: Any, counter: list[int]) -> Any:
    """`value` with each hole replaced by its marker, walked in the order of `_walk`."""
    kind = type(value)
    if kind is str or kind is Markup:
        if not value:
            return value
        counter[0] += 1
        # Markup, so that autoescaping leaves it as it is; it holds no markup at all.
        return Markup(f"{_OPEN}{counter[0] - 1}{_CLOSE}")  # noqa: S704
    if kind is list or kind is tuple:
        return kind(_probe(item, counter) for item in value)
    if dataclasses.is_dataclass(value):
        names = [field.name for field in dataclasses.fields(kind)]
        return _Probe({name: _probe(getattr(value, name), counter) for name in names})
    return value


class _Probe:
    """A dataclass's stand-in in the probe context: the same attributes, markers for holes."""

    def __init__(self, attributes: dict[str, Any]) -> None:
        self.__dict__.update(attributes)


@dataclasses.dataclass(frozen=True, slots=True)
class Stencil:
    """A template's output for one shape: `parts[0] hole parts[1] hole ... parts[-1]`."""

    parts: tuple[str, ...]
    holes: tuple[int, ...]  # which of the message's holes goes after each part
    escape: bool

    def fill(self, holes: list[str]) -> str:
        values = [holes[index] for index in self.holes]
        if self.escape:
            escape = _fast_escape
            values = [value if type(value) is Markup else escape(value) for value in values]
        pieces: list[str] = [""] * (2 * len(values) + 1)
        pieces[::2] = self.parts
        pieces[1::2] = values
        return "".join(pieces)


def _replacing_escape(text: str) -> str:
    """markupsafe's escape, the same five entities (by test), without its Markup object."""
    return (
        text.replace("&", "&amp;")
        .replace(">", "&gt;")
        .replace("<", "&lt;")
        .replace("'", "&#39;")
        .replace('"', "&#34;")
    )


try:
    # markupsafe's C escape (its speedups module) without the Markup object
    # that `escape` builds around the result, a third of a fill's time; one pass over the
    # text where five replaces walk it five times. A private name: should a later markupsafe
    # drop it (or it was installed without its C part), the replaces write the same.
    from markupsafe._speedups import _escape_inner as _fast_escape
except ImportError:  # pragma: no cover - depends on markupsafe's version
    _fast_escape = _replacing_escape


def html_escape(text: str) -> str:
    """What autoescaping writes for a string: markupsafe's escape (the same five entities,
    by test), as a str."""
    return _fast_escape(text)


class Stencils:
    """One template's stencils by shape (statics and message shape), compiled on first use."""

    def __init__(self, template: Template) -> None:
        self.template = template
        autoescape = template.environment.autoescape
        self.escape = bool(autoescape(template.name) if callable(autoescape) else autoescape)
        self._shapes: dict[Hashable, Stencil] = {}

    def render(
        self,
        statics: Mapping[str, Hashable],
        values: Mapping[str, Any],
        flat: tuple[tuple[Any, ...], list[str]] | None = None,
    ) -> str:
        """The template's output for `statics` and `values` (`flat`: `flatten(values)`, when
        the caller has it already: the text and HTML parts of a message share it)."""
        shape, holes = flat or flatten(values)
        key = (tuple(statics.values()), shape)
        stencil = self._shapes.get(key)
        if stencil is None:
            if len(self._shapes) >= _MAX_SHAPES:
                self._shapes.clear()
            stencil = self._shapes[key] = self.compile(statics, values)
        return stencil.fill(holes)

    def compile(self, statics: Mapping[str, Any], values: Mapping[str, Any]) -> Stencil:
        counter = [0]
        probes = {name: _probe(value, counter) for name, value in values.items()}
        output = self.template.render({**statics, **probes})
        pieces = _MARKER.split(output)
        parts = tuple(pieces[::2])
        if any(mark in part for part in parts for mark in ("\ue000", "\ue001")):
            raise StencilError(
                f"{self.template.name} changes a message's value before printing it (a filter "
                "on it?): give it the value it prints, computed in Python"
            )
        return Stencil(parts, tuple(int(n) for n in pieces[1::2]), self.escape)
