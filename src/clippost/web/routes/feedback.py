"""Favourite and discard links from digests: GET shows one button, POST applies it."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from clippost.library.service import feedback_from_link
from clippost.links import Purpose
from clippost.web import deps

router = APIRouter()

_PURPOSES = {"favourite": Purpose.FAVOURITE, "discard": Purpose.DISCARD}


@router.get("/favourite/{token}")
async def favourite_page(request: Request, token: str) -> Response:
    return _page(request, "favourite", token)


@router.get("/discard/{token}")
async def discard_page(request: Request, token: str) -> Response:
    return _page(request, "discard", token)


@router.post("/favourite/{token}")
async def favourite_submit(request: Request, token: str) -> Response:
    return await _apply(request, "favourite", token)


@router.post("/discard/{token}")
async def discard_submit(request: Request, token: str) -> Response:
    return await _apply(request, "discard", token)


def _page(request: Request, verb: str, token: str) -> Response:
    deps.links(request).read(_PURPOSES[verb], token, now=datetime.now(UTC))
    return deps.render(request, "feedback.html", {"verb": verb, "action": f"/{verb}/{token}"})


async def _apply(request: Request, verb: str, token: str) -> Response:
    await deps.read_form(request, limit=deps.SMALL_FORM_BYTES)
    async with deps.transaction(request) as session:
        highlight = await feedback_from_link(session, deps.context(request), _PURPOSES[verb], token)
    return deps.render(request, "feedback_done.html", {"verb": verb, "highlight": highlight})
