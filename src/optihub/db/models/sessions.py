"""Staff sign-in sessions (the pages' cookie names one) and secrets waiting to be shown once."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from optihub.db.base import Base, utcnow


class StaffSession(Base):
    """A signed-in browser. The session cookie carries a random id; the row is what makes it
    valid, so deleting it (sign-out) ends the session for every copy of the cookie, on
    every process."""

    __tablename__ = "staff_sessions"
    __table_args__ = (Index(None, "user_id"), Index(None, "expires_at"))

    # SHA-256 of the id in the cookie: a database read never yields a usable cookie.
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class SecretReveal(Base):
    """Something to show once, on the page after the form that made it (a new app's client
    secret), kept here, not in the cookie. Encrypted with the instance key; deleted when
    shown, when it expires and with its session."""

    __tablename__ = "secret_reveals"
    __table_args__ = (Index(None, "session_id_hash"), Index(None, "expires_at"))

    # SHA-256 of the one-time id the cookie carries.
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id_hash: Mapped[str] = mapped_column(
        ForeignKey("staff_sessions.id_hash", ondelete="CASCADE")
    )
    payload: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column()
