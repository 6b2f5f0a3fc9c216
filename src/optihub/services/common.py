"""Small helpers every use case shares."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
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


# Rows a use case wrote in the session's current transaction, past the ORM (``db.prepared``):
# a later check that one exists in the practice needs no query. Forgotten when any
# transaction of the session ends (a savepoint's too), so a rolled-back row is never taken
# for written: the check then asks the database, as it always may.
_WRITTEN = "optihub.services.written"


def note_written(session: Session, model: Any, practice_id: int, row_id: uuid.UUID) -> None:
    """``row_id`` of ``model`` was written in the practice in this transaction."""
    session.info.setdefault(_WRITTEN, set()).add((model, practice_id, row_id))


def written_here(session: Session, model: Any, practice_id: int, row_id: uuid.UUID) -> bool:
    """Whether ``note_written`` was told of this row in the current transaction."""
    written = session.info.get(_WRITTEN)
    return written is not None and (model, practice_id, row_id) in written


@event.listens_for(Session, "after_transaction_end")
def _forget_written(session: Session, _transaction: Any) -> None:
    session.info.pop(_WRITTEN, None)
