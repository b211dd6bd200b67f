"""A stored payload of any kind as its templates' context, with the operator's Site added.

Digests get their own view (rendering.digest); the other kinds are the payload itself,
mappings turned into attribute objects: Jinja resolves `book.title` by trying `getattr`
first and the item only when that raises, so on a dict every lookup pays for an exception.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from clippost.rendering.digest import digest_context, schedule_view
from clippost.rendering.site import DEFAULT_SITE, Site


def email_context(
    kind: str,
    payload: Mapping[str, Any],
    *,
    site: Site = DEFAULT_SITE,
    due_at: datetime | None = None,
) -> dict[str, Any]:
    """The template context of an email of `kind` from its stored payload."""
    if kind == "digest":
        return digest_context(payload, site, due_at=due_at)
    context = {key: _attributes(value) for key, value in payload.items()}
    context["site"] = site
    if kind == "welcome":
        context["schedule"] = schedule_view(payload.get("schedule"), payload.get("timezone"))
    return context


def _attributes(value: Any) -> Any:
    if isinstance(value, dict):
        return SimpleNamespace(**{key: _attributes(item) for key, item in value.items()})
    if isinstance(value, list):
        return [_attributes(item) for item in value]
    return value
