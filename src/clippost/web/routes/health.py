"""`/healthz`: the process answers. No I/O, so load balancers and benchmarks measure the
web stack alone."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import PlainTextResponse

router = APIRouter()


@router.get("/healthz")
async def healthz() -> PlainTextResponse:
    return PlainTextResponse("ok\n")
