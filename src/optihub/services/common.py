"""Small helpers every use case shares."""

from __future__ import annotations

from collections.abc import Callable

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


def add_retrying(
    session: Session,
    row: object,
    message: str,
    retry: Callable[[IntegrityError], bool],
    attempts: int = 5,
) -> None:
    """Add ``row`` and flush it in a savepoint; a unique-key violation ``retry`` accepts (it
    changed what collided, e.g. drew a new random number) is tried again, up to ``attempts``
    times in all; any other becomes ``Conflict(message)``.

    The row is added inside the savepoint: a flush that fails on a row pending from before
    the savepoint rolls back the whole transaction, and the retry could not run; rows the
    caller added before are flushed first, outside the savepoint, for the same reason.
    """
    if session.new:
        flush_or_conflict(session, message)
    for attempt in range(attempts):
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
            return
        except IntegrityError as exc:
            if attempt == attempts - 1 or not retry(exc):
                raise Conflict(message) from exc
