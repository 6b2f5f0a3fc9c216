"""The app under load, plus the framework floor: a bare route returning fixed bytes."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import Response

from optihub.app import create_app


@cache
def floor_bytes() -> bytes:
    # Written by load.py after the server starts: the body of a real list page.
    return Path(os.environ["OPTIHUB_BENCH_FLOOR_FILE"]).read_bytes()


def create() -> FastAPI:
    app = create_app()

    @app.get("/bench/floor", include_in_schema=False)
    async def bare() -> Response:
        return Response(floor_bytes(), media_type="application/json")

    return app
