"""The board's floor: a bare Starlette route returning the bytes bench/board.py fetched from
the signed-in page (board.html, or search.html when the request has ``q``), with the same
content type. wrk sends the same requests (path, query, cookie) to both servers."""

from __future__ import annotations

import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

FLOOR_DIR = Path(os.environ.get("OPTIHUB_BENCH_FLOOR_DIR", "."))
BOARD = (FLOOR_DIR / "board.html").read_bytes()
SEARCH = (FLOOR_DIR / "search.html").read_bytes()


async def board(request: Request) -> Response:
    body = SEARCH if "q" in request.query_params else BOARD
    return Response(body, media_type="text/html; charset=utf-8")


async def healthz(_request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


app = Starlette(routes=[Route("/dashboard/orders", board), Route("/healthz", healthz)])
