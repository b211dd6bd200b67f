"""Stencils: a template compiled once per shape fills in exactly what Jinja would render."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jinja2 import DictLoader, Environment, StrictUndefined, UndefinedError, select_autoescape
from markupsafe import Markup, escape

from clippost.rendering import stencils
from clippost.rendering.environment import _digest_stencils
from clippost.rendering.html import lines
from clippost.rendering.messages import render_payload
from clippost.rendering.plaintext import one_line, wrap
from clippost.rendering.site import Site
from clippost.rendering.stencils import (
    HOLE,
    StencilError,
    Stencils,
    _replacing_escape,
    flatten,
    html_escape,
)

from .conftest import make_highlight, make_v2

TEMPLATES = {
    "card.html": (
        "<h1>{{ site }}</h1>\n{% for item in items %}"
        '<p lang="{{ item.lang }}"{% if item.starred %} class="star"{% endif %}>{{ item.text }}'
        "{% if item.note %} <i>{{ item.note }}</i>{% endif %}</p>\n{% endfor %}"
        '{% if links %}{% for n, url in links %}<a href="{{ url }}">[{{ n }}]</a>{% endfor %}'
        "{% endif %}{{ _('Hello %(name)s', name=name) }}"
    ),
    "card.txt": "{{ site }}\n{% for item in items %}> {{ item.text }}\n{% endfor %}{{ name }}\n",
    "filtered.html": "<p>{{ text|upper }}</p>",
    "lines.html": "<p>{{ text|lines }}</p>",
    "wrapped.txt": "{{ text|wrap }}",
    "one_line.txt": "{{ text|one_line }}",
    "missing.html": "<p>{{ nowhere }}</p>",
}


@dataclass(frozen=True, slots=True)
class Item:
    text: str
    lang: str
    starred: bool
    note: str | None


def environment() -> Environment:
    env = Environment(
        loader=DictLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html",)),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(lines=lines, wrap=wrap, one_line=one_line)
    return env


ENV = environment()


def values(**overrides: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "items": [
            Item("Be <brave> & kind", "en", False, None),
            Item("Sei mutig", "de", True, 'a "note"'),
        ],
        "links": [(1, "https://x.test/?a=1&b=2"), (2, "https://x.test/'q'")],
        "name": "Ada <admin>",
    }
    context.update(overrides)
    return context


def both(name: str, context: dict[str, Any], site: str = "Books & Co") -> tuple[str, str]:
    """(what Jinja renders, what the stencil fills in) for the same context."""
    template = ENV.get_template(name)
    return template.render(site=site, **context), Stencils(template).render({"site": site}, context)


texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
items = st.builds(Item, texts, texts, st.booleans(), st.none() | texts)


class TestFill:
    def test_html_is_what_jinja_renders(self) -> None:
        """A filled HTML stencil is byte for byte the template's own output, escaping included."""
        rendered, filled = both("card.html", values())
        assert filled == rendered
        assert "Be &lt;brave&gt; &amp; kind" in filled
        assert "Hello Ada &lt;admin&gt;" in filled

    def test_text_is_not_escaped(self) -> None:
        """A text template's stencil prints its values as they are."""
        rendered, filled = both("card.txt", values())
        assert filled == rendered
        assert "> Be <brave> & kind\n" in filled

    @given(
        items=st.lists(items, max_size=4),
        name=texts,
        links=st.lists(st.tuples(st.integers(0, 9), texts), max_size=3),
    )
    def test_any_values_fill_in_as_jinja_renders_them(
        self, items: list[Item], name: str, links: list[tuple[int, str]]
    ) -> None:
        """Whatever the strings, empty ones included, stencil and template agree."""
        context = values(items=items, name=name, links=links)
        for template in ("card.html", "card.txt"):
            rendered, filled = both(template, context)
            assert filled == rendered

    def test_markup_values_are_not_escaped_again(self) -> None:
        """A value that is already HTML (Markup) goes in as it is, as autoescaping has it."""
        context = values(items=[Item(Markup("<b>bold</b>"), "en", False, None)])
        rendered, filled = both("card.html", context)
        assert filled == rendered
        assert "<b>bold</b>" in filled

    @given(text=st.text())
    def test_escaping_is_markupsafes(self, text: str) -> None:
        """html_escape writes exactly what markupsafe's escape writes."""
        assert html_escape(text) == str(escape(text))
        assert type(html_escape(text)) is str
        assert _replacing_escape(text) == str(escape(text))  # the fallback


class TestShapes:
    def test_one_stencil_per_shape(self) -> None:
        """Messages that differ only in their strings share one compiled stencil."""
        template = ENV.get_template("card.html")
        compiled: list[object] = []
        original = Stencils.compile

        class Counting(Stencils):
            def compile(self, statics: Any, values: Any) -> Any:
                compiled.append(values)
                return original(self, statics, values)

        counting = Counting(template)
        for n in range(5):
            counting.render({"site": "S"}, values(name=f"reader {n}"))
        assert len(compiled) == 1
        counting.render({"site": "S"}, values(name=""))  # an empty string: another shape
        counting.render({"site": "T"}, values())  # another static: another stencil
        counting.render({"site": "S"}, values(items=[]))  # fewer items: another shape
        assert len(compiled) == 4

    def test_shape_key_holds_truth_numbers_and_lengths(self) -> None:
        """The key is what the template can test; the holes are the non-empty strings."""
        key, holes = flatten(
            {"a": "x", "b": "", "c": [True, None, 3], "d": Item("t", "", True, None)}
        )
        assert key == (HOLE, "", 3, True, None, 3, HOLE, "", True, None)
        assert holes == ["x", "t"]

    def test_other_types_are_refused(self) -> None:
        """A value the walk cannot key (a float, a dict) is a programming error."""
        with pytest.raises(TypeError, match="stencil"):
            flatten({"when": 1.5})

    def test_shapes_are_bounded(self) -> None:
        """A template with ever new shapes keeps no more than the bound of them."""
        template = ENV.get_template("card.txt")
        bounded = Stencils(template)
        for n in range(stencils._MAX_SHAPES + 10):
            bounded.render({"site": str(n)}, values())
        assert len(bounded._shapes) <= stencils._MAX_SHAPES


class TestRefusal:
    @pytest.mark.parametrize("name", ["filtered.html", "lines.html", "wrapped.txt", "one_line.txt"])
    def test_a_filtered_value_is_an_error_not_a_wrong_email(self, name: str) -> None:
        """A template that changes a message's value before printing it cannot be a stencil."""
        with pytest.raises(StencilError, match="filter"):
            Stencils(ENV.get_template(name)).render({}, {"text": "some text"})

    def test_a_missing_value_is_an_error(self) -> None:
        """A value the template needs and is not given fails as in Jinja (StrictUndefined)."""
        with pytest.raises(UndefinedError):
            Stencils(ENV.get_template("missing.html")).render({}, {})


class TestDigestShapes:
    def test_shapes_are_a_passages_not_combinations_of_five(self) -> None:
        """Digests of five passages, each with or without a note, trimmed or not, favourite
        or not, share a handful of frames: the passages' shapes do not multiply them."""
        rng = random.Random(3)
        site = Site(name="Reading Room", base_url="https://clippost.test")
        for _ in range(300):
            highlights = [
                make_highlight(
                    k,
                    text="Long enough. " * rng.choice((1, 80)),
                    note=rng.choice((None, "a note")),
                    favourite=rng.random() < 0.3,
                    highlighted_on=rng.choice((None, "2021-03-03")),
                )
                for k in range(5)
            ]
            render_payload("digest", make_v2(locale="nl", highlights=highlights), site=site)
        shapes = _digest_stencils("nl")
        assert len(shapes.html._shapes) <= 4
        assert len(shapes.passage._shapes) <= 2 * 2**4  # first or not, four flags
        assert len(shapes.text._shapes) <= 16  # how many links: one to three a passage
