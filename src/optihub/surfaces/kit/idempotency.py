"""``Idempotency-Key`` replay for POSTs: the first response to a key is stored in the same
transaction as the change it made, and a repeat with the same body gets it back; the same
key with a different body is refused.

The key row is written first: on PostgreSQL a concurrent request with the same key waits
on it and then replays the first one's response (SQLite runs one writer at a time).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import orjson
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from optihub.db.models import IdempotencyKey
from optihub.errors import BadRequest

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


def fingerprint(method: str, path: str, body: Any) -> str:
    """What makes two requests "the same": method, path and the parsed body."""
    canonical = orjson.dumps([method, path, body], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def idempotent(
    session: Session,
    *,
    practice_id: int,
    client_id: str,
    key: str | None,
    request_fingerprint: str,
    run: Callable[[], Response],
) -> Response:
    """``run()`` once per key; later calls with the key replay its stored response."""
    if key is None:
        return run()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise BadRequest(
            f"{HEADER}: must be 1 to {MAX_KEY_LENGTH} characters",
            code="idempotency_error",
            field=HEADER,
        )
    row = IdempotencyKey(
        practice_id=practice_id,
        client_id=client_id,
        key=key,
        request_fingerprint=request_fingerprint,
        response_status=0,
        response_body="",
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return _replay(session, practice_id, client_id, key, request_fingerprint)
    response = run()
    row.response_status = response.status_code
    row.response_body = bytes(response.body).decode()
    session.flush()
    return response


def _replay(
    session: Session, practice_id: int, client_id: str, key: str, request_fingerprint: str
) -> Response:
    stored = session.scalar(
        select(IdempotencyKey).where(
            IdempotencyKey.practice_id == practice_id,
            IdempotencyKey.client_id == client_id,
            IdempotencyKey.key == key,
        )
    )
    if stored is None or stored.request_fingerprint != request_fingerprint:
        raise BadRequest(
            f"{HEADER}: this key was already used with a different request",
            code="idempotency_error",
            field=HEADER,
        )
    return Response(
        stored.response_body.encode(),
        stored.response_status,
        media_type="application/json",
        headers={"Idempotent-Replayed": "true"},
    )
