"""Favourite and never-again links from digests, their undo, and the whole passage.

GET pages show the passage and one button, and change nothing: link scanners follow every
URL in an email and must never act. The POST does it, and its page offers Undo: the same
signed link, one click, taking back only what that click did.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from clippost.library.service import apply_feedback, highlight_from_link
from clippost.links import Purpose
from clippost.web import deps

router = APIRouter()

_PURPOSES = {"favourite": Purpose.FAVOURITE, "discard": Purpose.DISCARD}


@router.get("/favourite/{token}")
async def favourite_page(request: Request, token: str) -> Response:
    return await _page(request, "favourite", token)


@router.get("/discard/{token}")
async def discard_page(request: Request, token: str) -> Response:
    return await _page(request, "discard", token)


@router.post("/favourite/{token}")
async def favourite_submit(request: Request, token: str) -> Response:
    return await _apply(request, "favourite", token, undo=False)


@router.post("/discard/{token}")
async def discard_submit(request: Request, token: str) -> Response:
    return await _apply(request, "discard", token, undo=False)


@router.post("/favourite/{token}/undo")
async def favourite_undo(request: Request, token: str) -> Response:
    return await _apply(request, "favourite", token, undo=True)


@router.post("/discard/{token}/undo")
async def discard_undo(request: Request, token: str) -> Response:
    return await _apply(request, "discard", token, undo=True)


@router.get("/passage/{token}")
async def passage(request: Request, token: str) -> Response:
    """A digest's "read the whole passage": the passage whole, with its two actions."""
    async with deps.read(request) as session:
        highlight = await highlight_from_link(
            session, deps.context(request), Purpose.PASSAGE, token
        )
    links = deps.links(request)
    now = datetime.now(UTC)
    # The actions name the same link generation as the passage link (checked above).
    generation = links.read_highlight_link(Purpose.PASSAGE, token, now=now).extra
    actions = {
        verb: f"/{verb}/{links.token(purpose, highlight.id, now=now, extra=generation)}"
        for verb, purpose in _PURPOSES.items()
    }
    return deps.render(request, "passage.html", {"highlight": highlight, "actions": actions})


async def _page(request: Request, verb: str, token: str) -> Response:
    async with deps.read(request) as session:
        highlight = await highlight_from_link(
            session, deps.context(request), _PURPOSES[verb], token
        )
    values = {"verb": verb, "action": f"/{verb}/{token}", "highlight": highlight}
    return deps.render(request, "feedback.html", values)


async def _apply(request: Request, verb: str, token: str, *, undo: bool) -> Response:
    await deps.read_form(request, limit=deps.SMALL_FORM_BYTES)
    async with deps.transaction(request) as session:
        done = await apply_feedback(
            session, deps.context(request), _PURPOSES[verb], token, undo=undo
        )
    values = {
        "verb": verb,
        "undo": undo,
        "feedback": done,
        "highlight": done.highlight,
        "undo_action": f"/{verb}/{token}/undo",
        "redo_action": f"/{verb}/{token}",
    }
    return deps.render(request, "feedback_done.html", values)
