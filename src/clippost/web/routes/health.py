"""`/healthz`, `/readyz` and `/metrics`: for load balancers, orchestrators and Prometheus.

`/healthz` says the process answers: no I/O, so load balancers and benchmarks measure the
web stack alone. `/readyz` says it can serve: the database answers and its schema is this
version's (503 and a one-line reason otherwise). `/metrics` is the Prometheus text format
(`clippost.metrics`), behind a bearer token when `CLIPPOST_METRICS_TOKEN` is set.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from clippost import metrics
from clippost.db.health import readiness_problem
from clippost.errors import NotFound
from clippost.web import deps

router = APIRouter()
_NO_STORE = {"Cache-Control": "no-store"}


# HEAD too: uptime checkers and load balancers often probe with it.
@router.api_route("/healthz", methods=["GET", "HEAD"])
async def healthz() -> PlainTextResponse:
    return PlainTextResponse("ok\n")


@router.api_route("/readyz", methods=["GET", "HEAD"])
async def readyz(request: Request) -> PlainTextResponse:
    problem = await readiness_problem(deps.runtime(request).db)
    if problem is not None:
        return PlainTextResponse(f"not ready: {problem}\n", status_code=503, headers=_NO_STORE)
    return PlainTextResponse("ready\n", headers=_NO_STORE)


@router.get("/metrics")
async def metrics_page(request: Request) -> Response:
    token = deps.settings(request).metrics_token
    if token is not None and not _bearer_is(request, token.get_secret_value()):
        # As if there were no such page: nothing tells a scanner a token would open it.
        raise NotFound("There is no page at this address.")
    cache: metrics.GaugeCache = request.app.state.gauge_cache
    snapshot = await cache.get(deps.runtime(request).db, now=datetime.now(UTC))
    body = metrics.exposition(snapshot)
    return Response(body, media_type=metrics.CONTENT_TYPE, headers=_NO_STORE)


def _bearer_is(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    matches = hmac.compare_digest(given.strip().encode(), token.encode())
    return scheme.lower() == "bearer" and matches
