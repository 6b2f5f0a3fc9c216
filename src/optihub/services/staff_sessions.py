"""Staff sign-in sessions kept on the server, and secrets shown once.

The pages' signed cookie carries only random ids; what they stand for is here, so ending a
session (sign-out) ends it for every copy of the cookie, on every process that shares the
database. Ids are stored as SHA-256 digests: reading the tables yields no usable cookie.
The cookie's own signature and idle limit (8 h) still apply; a session also ends
``SESSION_LIFETIME`` after sign-in, however busy.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from optihub.db.base import utcnow
from optihub.db.models import SecretReveal, StaffSession, User
from optihub.security import sha256_hex

SESSION_LIFETIME = timedelta(hours=12)
# Time to follow the redirect to the page that shows the secret.
REVEAL_LIFETIME = timedelta(minutes=10)


def start(session: Session, user_id: uuid.UUID) -> str:
    """Open a session for the user and return its id (for the cookie only).

    Sessions past their lifetime (anyone's) are deleted in the same transaction, with the
    secrets they still held.
    """
    now = utcnow()
    session.execute(delete(StaffSession).where(StaffSession.expires_at <= now))
    session_id = secrets.token_urlsafe(32)
    session.add(
        StaffSession(
            id_hash=sha256_hex(session_id),
            user_id=user_id,
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    session.flush()
    return session_id


def signed_in_user(session: Session, session_id: str) -> User | None:
    """The active user whose live session this is, or None (ended, expired, unknown, or the
    user deactivated). One indexed query."""
    return session.scalar(
        select(User)
        .join(StaffSession, StaffSession.user_id == User.id)
        .where(
            StaffSession.id_hash == sha256_hex(session_id),
            StaffSession.expires_at > utcnow(),
            User.is_active.is_(True),
        )
    )


def end(session: Session, session_id: str) -> None:
    """End the session (sign-out), with any secret it still held. Ending an unknown or
    already ended session does nothing."""
    session.execute(delete(StaffSession).where(StaffSession.id_hash == sha256_hex(session_id)))


def keep_secret(session: Session, session_id: str, payload: str) -> str:
    """Keep ``payload`` (already encrypted by the caller) for this session to take once;
    returns the one-time id to take it with."""
    reveal_id = secrets.token_urlsafe(32)
    session.add(
        SecretReveal(
            id_hash=sha256_hex(reveal_id),
            session_id_hash=sha256_hex(session_id),
            payload=payload,
            expires_at=utcnow() + REVEAL_LIFETIME,
        )
    )
    session.flush()
    return reveal_id


def take_secret(session: Session, session_id: str, reveal_id: str) -> str | None:
    """The payload kept under ``reveal_id`` for this session, deleted as it is read (so
    of two concurrent takes only one gets it); None when it was taken, expired, or is
    another session's. Expired secrets (anyone's) are deleted too."""
    now = utcnow()
    taken = session.scalar(
        delete(SecretReveal)
        .where(
            SecretReveal.id_hash == sha256_hex(reveal_id),
            SecretReveal.session_id_hash == sha256_hex(session_id),
            SecretReveal.expires_at > now,
        )
        .returning(SecretReveal.payload)
    )
    session.execute(delete(SecretReveal).where(SecretReveal.expires_at <= now))
    return taken
