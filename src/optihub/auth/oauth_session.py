"""The request's database session, for Authlib callbacks that receive no request."""

from __future__ import annotations

from contextvars import ContextVar

from sqlalchemy.orm import Session

_session: ContextVar[Session] = ContextVar("optihub_oauth_session")


def current_session() -> Session:
    return _session.get()


def use_session(session: Session) -> None:
    _session.set(session)
