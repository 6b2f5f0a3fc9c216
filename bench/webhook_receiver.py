"""A bare loopback webhook receiver for bench/webhooks.py: it answers 204 to every POST
and keeps, per ``X-Webhook-Id``, how many times it arrived and the first arrival time.
``GET /stats`` returns the counts and the first and last arrival times."""

from __future__ import annotations

import time

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

seen: dict[str, int] = {}
times: list[float] = []


async def hook(request: Request) -> Response:
    await request.body()
    delivery = request.headers.get("x-webhook-id", "")
    seen[delivery] = seen.get(delivery, 0) + 1
    times.append(time.time())
    return Response(status_code=204)


async def stats(_request: Request) -> JSONResponse:
    return JSONResponse(
        {
            "received": len(times),
            "distinct": len(seen),
            "repeated": sum(1 for n in seen.values() if n > 1),
            "first": times[0] if times else None,
            "last": times[-1] if times else None,
        }
    )


async def reset(_request: Request) -> Response:
    seen.clear()
    times.clear()
    return Response(status_code=204)


app = Starlette(
    routes=[
        Route("/hook", hook, methods=["POST"]),
        Route("/stats", stats),
        Route("/healthz", lambda _request: Response(b"ok")),
        Route("/reset", reset, methods=["POST"]),
    ]
)
