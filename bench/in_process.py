"""The four creates sent through OptiHub in this process, every statement they send watched.

What ``bench/profile_creates.py`` and ``bench/create_sql.py`` share: the demo data seeded
as ``bench/dialects.py`` seeds it, the app built on it (Starlette's test client: no network,
no uvicorn), the lab and portal set-up the creates need, and each create's body and
headers. ``sent(sql, parameters, many)`` is called for every statement sent to the database:
through SQLAlchemy (its ``before_cursor_execute`` event) and past it (``db.prepared.send``,
where one query may carry the statements deferred before it, quoted in, with no
parameters).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import event

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.dialects import (  # noqa: E402
    DEMO_EMAIL,
    UNIQUE,
    Backend,
    create_bodies,
    create_headers,
    lab_setup,
    letters,
    mint_tokens,
    portal_setup,
    prepare,
    server_env,
)
from optihub.app import create_app  # noqa: E402
from optihub.db import prepared  # noqa: E402
from optihub.db.session import Database  # noqa: E402
from optihub.settings import Settings  # noqa: E402

Sent = Callable[[str, Any, bool], None]


@dataclass(frozen=True)
class Create:
    """One dialect's main create: ``post`` sends it with a new unique body each time."""

    dialect: str
    shown: str
    path: str
    template: str
    headers: dict[str, str]

    def post(self, client: TestClient) -> httpx.Response:
        body = self.template.replace(UNIQUE, letters(12))
        response: httpx.Response = client.post(self.path, content=body, headers=self.headers)
        assert response.is_success, (self.path, response.status_code, response.text[:500])
        return response


@contextmanager
def creates_in_process(
    database: str, url: str, workdir: Path, sent: Sent
) -> Iterator[tuple[TestClient, list[Create]]]:
    """The demo data seeded at ``url`` (``database``: sqlite or postgresql), the app on it
    with ``sent`` watching its statements, a test client and the four creates."""
    env = server_env(url, workdir, OPTIHUB_LOG_LEVEL="warning")
    backend = Backend(database, url)
    prepare(backend, env)
    tokens = mint_tokens(backend, env)
    os.environ.update(env)
    db = Database(url)
    app = create_app(Settings.from_env(env), db)

    def through_sqlalchemy(_conn, _cursor, statement, parameters, _context, many):  # type: ignore[no-untyped-def]
        sent(statement, parameters, many)

    sent_past_sqlalchemy = prepared.send

    def past_sqlalchemy(driver, sql, values, many):  # type: ignore[no-untyped-def]
        sent(sql, values, many)
        return sent_past_sqlalchemy(driver, sql, values, many)

    event.listen(db.engine, "before_cursor_execute", through_sqlalchemy)
    prepared.send = past_sqlalchemy
    auth = {d: {"Authorization": f"Bearer {t}"} for d, t in tokens.items()}
    try:
        with TestClient(app, base_url="http://127.0.0.1") as client:
            lab = lab_setup(client, auth["labs"] | {"User-Email": DEMO_EMAIL})
            portal_setup(client, auth["portal"])
            headers = create_headers(auth)
            creates = [
                Create(dialect, shown, path, json.dumps(body), headers[dialect])
                for dialect, (shown, path, body) in create_bodies(backend.practice_id, lab).items()
            ]
            yield client, creates
    finally:
        prepared.send = sent_past_sqlalchemy
        event.remove(db.engine, "before_cursor_execute", through_sqlalchemy)
        db.dispose()
