"""The Jinja2 environments for emails, and `render_email`: one kind in, subject + text + HTML out.

Each kind is a pair of templates, `email/<kind>.txt` and `email/<kind>.html`. The subject is
the `subject` block of the text template (so it is never HTML-escaped), rendered first and
handed to both bodies as `email_subject` (and as `email_title` without its bidi controls,
for the HTML <title>); it is flattened to one line whatever the data holds,
which is what keeps a book title such as "x\\r\\nBcc: y" out of the headers. HTML templates
autoescape everything; the text ones do not (they are plain text, and escaping would show
"&amp;" to the reader). Each template states the context it needs in a comment at its top.

The email's own words are gettext messages (`{% trans %}` blocks, Jinja's i18n extension),
in the language the context's `locale` names (rendering.i18n; English for anything else).
There is one environment per catalogue, each with its translations and its locale's date
and number formats installed, built when the language is first used; its compiled
templates are kept for the life of the process: a digest is rendered for every message
the sender sends, and nothing is parsed, compiled or loaded twice.

The digest, the one email sent by the thousand, does not run its templates per message:
they are stencils (rendering.stencils), rendered once per shape of message, language and
site with markers for the message's values, then filled in. rendering.digest prepares the
values (the subject too, so it needs no template run); each passage of the HTML part is
its own stencil (`email/_digest_passage.html`), so that the shapes are a passage's (a note
or not, trimmed or not, a favourite or not), not every combination of five of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache, partial
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, Template, select_autoescape
from markupsafe import Markup

from clippost.rendering import html, i18n, words
from clippost.rendering.authors import natural_authors
from clippost.rendering.digest import digest_context
from clippost.rendering.labels import label
from clippost.rendering.passages import script_of
from clippost.rendering.plaintext import one_line, plain, wrap
from clippost.rendering.site import DEFAULT_SITE
from clippost.rendering.stencils import Stencils

EMAIL_KINDS = frozenset({"confirm", "already_subscribed_import", "magic_link", "digest", "welcome"})


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def render_email(kind: str, context: Mapping[str, Any]) -> RenderedEmail:
    """Render one email of `kind` (one of EMAIL_KINDS) with `context`.

    `context["locale"]` chooses the language (English without it); `context["site"]`, a
    rendering.site.Site, names the operator (the default Site without it). A digest's
    context may also be its stored payload itself (rendering.digest prepares it).
    """
    if kind == "digest":
        return _digest(context)
    locale = i18n.email_locale(context.get("locale"))
    text_template, html_template = _templates(kind, locale.code)
    full = {"site": DEFAULT_SITE, **context, "lang": locale.tag}
    subject = one_line("".join(text_template.blocks["subject"](text_template.new_context(full))))
    full["email_subject"] = subject
    full["email_title"] = plain(subject)
    return RenderedEmail(
        subject=subject, text=text_template.render(full), html=html_template.render(full)
    )


# What each digest stencil is given of the digest's context (rendering.digest): the
# statics, the same for every message of a language and site, go to the template as they
# are; the values are the message's. Each part gets only what it prints: whatever it is
# given is part of its stencils' keys, and the passages' shapes would multiply them.
_DIGEST_STATICS = ("site", "labels")
_TEXT_VALUES = ("date_text", "passage_texts", "round_text", "links", "reason_text")
_HTML_VALUES = ("email_title", "preheader", "date_text", "round_html", "reason_html")
_LINKS = ("manage_url", "unsubscribe_url")


def _digest(context: Mapping[str, Any]) -> RenderedEmail:
    """A digest through its stencils: the templates' static parts joined with its values."""
    if "passages" not in context:
        context = digest_context(context, context.get("site") or DEFAULT_SITE)
    locale = i18n.email_locale(context["locale"])
    stencils = _digest_stencils(locale.code)
    statics = {"lang": locale.tag, **{name: context[name] for name in _DIGEST_STATICS}}
    labels = context["labels"]
    passages = "".join(
        stencils.passage.render({"labels": labels, "first": n == 0}, {"p": passage})
        for n, passage in enumerate(context["passages"])
    )
    text = {name: context[name] for name in (*_TEXT_VALUES, *_LINKS)}
    html = {name: context[name] for name in (*_HTML_VALUES, *_LINKS)}
    html["passages_html"] = Markup(passages)  # noqa: S704 (the passages' stencils escaped it)
    return RenderedEmail(
        subject=context["subject"],
        text=stencils.text.render(statics, text),
        html=stencils.html.render(statics, html),
    )


@dataclass(frozen=True, slots=True)
class _DigestStencils:
    text: Stencils
    html: Stencils
    passage: Stencils  # one passage of the HTML part


@cache
def _digest_stencils(code: str) -> _DigestStencils:
    text_template, html_template = _templates("digest", code)
    passage = email_environment(code).get_template("email/_digest_passage.html")
    return _DigestStencils(Stencils(text_template), Stencils(html_template), Stencils(passage))


@cache
def _templates(kind: str, code: str) -> tuple[Template, Template]:
    if kind not in EMAIL_KINDS:
        raise ValueError(f"unknown email kind {kind!r}; known: {sorted(EMAIL_KINDS)}")
    env = email_environment(code)
    return env.get_template(f"email/{kind}.txt"), env.get_template(f"email/{kind}.html")


@cache
def email_environment(code: str = i18n.DEFAULT) -> Environment:
    """The environment for one catalogue (`code` as rendering.i18n.CATALOGUES names it)."""
    env = Environment(
        loader=PackageLoader("clippost.rendering", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.i18n"],
        # Templates ship with the package and never change while running.
        auto_reload=False,
    )
    # Whitespace inside {% trans %} is folded, so msgids are one line whatever the layout.
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_translations(i18n.translations(code), newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(
        one_line=one_line,
        label=label,
        plain=plain,
        wrap=wrap,
        lines=html.lines,
        number=partial(i18n.number, code=code),
        authors=partial(_authors, code),
        full_date=partial(_on_day, i18n.full_date, code),
        day_and_month=partial(_on_day, i18n.day_and_month, code),
        on_clock=on_clock,
        clock=i18n.clock_time,
        duration_parts=duration_parts,
        schedule_words=partial(words.schedule, code),
    )
    env.tests["cjk"] = _is_cjk_text
    # The shared phrases' macros, built once: an {% import %} in each template would build
    # the module again at every render.
    env.globals["words"] = env.get_template("email/_words.txt").module
    return env


def _authors(code: str, raw: str | None) -> str:
    """A stored author field as a reader says it: "Peter Attia", "A, B and C"."""
    return i18n.name_list(natural_authors(raw), code)


def _is_cjk_text(value: object) -> bool:
    return isinstance(value, str) and script_of(value) in _UPRIGHT_SCRIPTS


_UPRIGHT_SCRIPTS = frozenset({"cjk", "hangul"})


def _on_day(formatter: Any, code: str, value: date | datetime) -> str:
    day = value.date() if isinstance(value, datetime) else value
    return str(formatter(day, code))


def on_clock(moment: datetime | str, timezone: str | None = None) -> datetime:
    """`moment` (aware, or ISO 8601 text with an offset) on the clock of `timezone`."""
    parsed = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    if parsed.tzinfo is None:
        raise ValueError("email times must be aware datetimes (or ISO text with an offset)")
    return parsed.astimezone(ZoneInfo(timezone)) if timezone else parsed


def duration_parts(value: timedelta | float) -> tuple[str, int]:
    """A link lifetime as (unit, count): ("minutes", 30), ("hours", 1), ("days", 2)."""
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    minutes = max(1, round(seconds / 60))
    if minutes % (24 * 60) == 0:
        return "days", minutes // (24 * 60)
    if minutes % 60 == 0:
        return "hours", minutes // 60
    return "minutes", minutes
