"""The floors of bench/dialects.py: bare Starlette routes on the same uvicorn stack.

- Reads: ``GET`` of any path answers the exact bytes (status 200, same content type) that
  OptiHub returned for that path and query string, fetched by bench/dialects.py just before
  and listed in ``$OPTIHUB_BENCH_FLOOR_DIR/reads.json`` (path with query → body file and
  content type). wrk sends the same requests (path, query, headers) to both servers.
- Writes: ``POST`` of any path reads the request body, stores it as one row in a SQLite
  file (``writes.db`` in the same folder; WAL, ``synchronous=NORMAL``, as OptiHub's own
  SQLite) and commits, answering 201 with a small JSON body.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

FLOOR_DIR = Path(os.environ.get("OPTIHUB_BENCH_FLOOR_DIR", "."))
READS: dict[str, tuple[bytes, str]] = {
    target: ((FLOOR_DIR / entry["file"]).read_bytes(), entry["content_type"])
    for target, entry in json.loads((FLOOR_DIR / "reads.json").read_text()).items()
}

writes = sqlite3.connect(FLOOR_DIR / "writes.db", isolation_level=None, check_same_thread=False)
writes.execute("PRAGMA journal_mode=WAL")
writes.execute("PRAGMA synchronous=NORMAL")
writes.execute(
    "CREATE TABLE IF NOT EXISTS posted (id INTEGER PRIMARY KEY, path TEXT NOT NULL, "
    "body BLOB NOT NULL)"
)


async def read(request: Request) -> Response:
    query = request.scope["query_string"].decode("latin-1")
    target = request.scope["path"] + (f"?{query}" if query else "")
    found = READS.get(target)
    if found is None:
        return Response(b'{"error":"no floor for this request"}', 404)
    body, content_type = found
    return Response(body, headers={"content-type": content_type})


async def write(request: Request) -> Response:
    body = await request.body()
    # One transaction, begun as OptiHub begins its SQLite writes (IMMEDIATE), committed
    # before the answer.
    writes.execute("BEGIN IMMEDIATE")
    try:
        row = writes.execute(
            "INSERT INTO posted (path, body) VALUES (?, ?)", (request.scope["path"], body)
        ).lastrowid
        writes.execute("COMMIT")
    except BaseException:
        writes.execute("ROLLBACK")
        raise
    return Response(
        b'{"id":%d,"status":"created"}' % (row or 0), 201, media_type="application/json"
    )


async def healthz(_request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


app = Starlette(
    routes=[
        Route("/healthz", healthz),
        Route("/{path:path}", read, methods=["GET"]),
        Route("/{path:path}", write, methods=["POST"]),
    ]
)
