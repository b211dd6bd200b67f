"""`/healthz`: the process answers. No I/O, so load balancers and benchmarks measure the
web stack alone."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import PlainTextResponse

router = APIRouter()


# HEAD too: uptime checkers and load balancers often probe with it.
@router.api_route("/healthz", methods=["GET", "HEAD"])
async def healthz() -> PlainTextResponse:
    return PlainTextResponse("ok\n")
