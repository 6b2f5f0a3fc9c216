"""The patient's view of an order: the links staff send, the messages OptiHub sends the
patient (the eyewear-ready e-mail), and the practice's outgoing mail server."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from optihub.db.base import Base, new_id, utcnow


class PatientLink(Base):
    """An address that shows one order to its patient, with no account.

    The address carries a random part and its HMAC under a key derived from the instance
    key (``services.patient_links``); the row keeps the SHA-256 of the whole token, by
    which it is looked up, and the random part, from which OptiHub (holding the instance
    key) can write the same address again for the order page and the e-mail. A copy of
    the database alone gives no working address.
    """

    __tablename__ = "patient_links"
    __table_args__ = (
        Index(None, "practice_id", "order_id", "created_at"),
        Index(None, "token_hash", unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[str] = mapped_column(String(32))
    # None: OptiHub made it for the eyewear-ready e-mail.
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    revoked_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )


class PatientMessage(Base):
    """A message to a patient about an order (today: the eyewear-ready e-mail), at most one
    per order and kind, sent by the delivery worker and retried as webhook deliveries are.

    ``status``: ``pending`` (waiting or retrying), ``sent``, ``failed`` (given up),
    ``skipped`` (not sent: ``last_error`` says why, e.g. no consent or no mail server).
    """

    __tablename__ = "patient_messages"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sent', 'failed', 'skipped')", name="status_known"),
        Index(None, "status", "next_attempt_at"),
        Index(None, "order_id", "kind", unique=True),
        Index(None, "practice_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    # The outbox event that asked for it (``order.completed``).
    event_id: Mapped[str | None] = mapped_column(ForeignKey("events.id", ondelete="SET NULL"))
    link_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("patient_links.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(String(30))
    channel: Mapped[str] = mapped_column(String(10), default="email")
    recipient: Mapped[str | None] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(String(500))
    last_attempt_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()


class PracticeMailServer(Base):
    """The practice's own SMTP server, through which its patients' e-mails go. The
    password is encrypted with the instance key."""

    __tablename__ = "practice_mail_servers"
    __table_args__ = (
        CheckConstraint("security IN ('starttls', 'tls', 'none')", name="security_known"),
    )

    practice_id: Mapped[int] = mapped_column(
        ForeignKey("practices.id", ondelete="CASCADE"), primary_key=True
    )
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    security: Mapped[str] = mapped_column(String(10), default="starttls")
    username: Mapped[str | None] = mapped_column(String(255))
    password_ciphertext: Mapped[str | None] = mapped_column(Text)
    from_address: Mapped[str] = mapped_column(String(254))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
