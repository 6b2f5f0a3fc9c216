"""Small helpers every use case shares."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from optihub.errors import Conflict


def flush_or_conflict(session: Session, message: str) -> None:
    """Flush in a savepoint; a unique-key violation becomes ``Conflict(message)``.

    The savepoint keeps the surrounding transaction usable, so the caller's error is the
    only outcome (and the request's rollback then removes everything it wrote).
    """
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Conflict(message) from exc
