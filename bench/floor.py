"""The framework floor: a bare Starlette app returning fixed bytes, one route per endpoint.

bench/run.py fetches the exact bodies of the real list page, one order detail and /healthz
from the server under test and writes them to OPTIHUB_BENCH_FLOOR_DIR (list.json,
detail.json, healthz.json) before starting this app under uvicorn with the same flags. The
routes mirror the real paths, so wrk sends the same requests to both servers.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

FLOOR_DIR = Path(os.environ.get("OPTIHUB_BENCH_FLOOR_DIR", "."))
LIST = (FLOOR_DIR / "list.json").read_bytes()
DETAIL = (FLOOR_DIR / "detail.json").read_bytes()
HEALTHZ = (FLOOR_DIR / "healthz.json").read_bytes()


async def orders(_request: Request) -> Response:
    return Response(LIST, media_type="application/json")


async def order(_request: Request) -> Response:
    return Response(DETAIL, media_type="application/json")


async def healthz(_request: Request) -> Response:
    return Response(HEALTHZ, media_type="application/json")


app = Starlette(
    routes=[
        Route("/api/v1/partner/orders", orders),
        Route("/api/v1/partner/orders/{order_id}", order),
        Route("/healthz", healthz),
    ]
)
