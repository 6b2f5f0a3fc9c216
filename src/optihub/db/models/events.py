"""Outbox events, webhook subscriptions, deliveries and their attempt log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from optihub.db.base import Base, Timestamps, new_id, utcnow


class Event(Base):
    """An outbox row, written in the same transaction as the change it describes.

    ``relayed_at`` is set once the relay has fanned it out into webhook deliveries.
    """

    __tablename__ = "events"
    __table_args__ = (
        Index(None, "practice_id", "created_at"),
        Index(None, "relayed_at", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    data: Mapped[dict[str, Any]] = mapped_column()
    relayed_at: Mapped[datetime | None] = mapped_column()


class WebhookSubscription(Timestamps, Base):
    __tablename__ = "webhook_subscriptions"
    __table_args__ = (Index(None, "practice_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    # The surface whose subscribers see events in its shape (partner, fulfillment...).
    surface: Mapped[str] = mapped_column(String(30), server_default="partner")
    # The OAuth client that created it (partner apps see their practice's subscriptions).
    client_id: Mapped[str | None] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[Any]] = mapped_column()
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str | None] = mapped_column(String(500))
    # Encrypted with the instance key; shown to the creator once.
    secret_ciphertext: Mapped[str] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_delivery_at: Mapped[datetime | None] = mapped_column()
    last_status: Mapped[str | None] = mapped_column(String(20))
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    disabled_at: Mapped[datetime | None] = mapped_column()


class WebhookDelivery(Base):
    """One event under one of its surface's event codes to one subscription; retried until
    delivered or given up."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index(None, "status", "next_attempt_at"),
        Index(None, "practice_id", "subscription_id", "created_at"),
        Index(None, "subscription_id", "event_id", "event_code", unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    subscription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    # The surface's event code this delivery announces (the event's type on surfaces whose
    # codes are the core's types; one event may produce several codes).
    event_code: Mapped[str] = mapped_column(String(60))
    # The exact body sent on every attempt, fixed when the event was fanned out, so each
    # retry of one X-Webhook-Id carries the same bytes.
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column()
    # The worker holding the claim while ``locked_until`` runs (host:pid, ``holder``):
    # which node has a delivery in hand, for an operator and the reliability run's checks.
    locked_by: Mapped[str | None] = mapped_column(String(200))
    last_response_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column()


class WebhookAttempt(Base):
    __tablename__ = "webhook_attempts"
    __table_args__ = (Index(None, "practice_id", "delivery_id", "attempted_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE")
    )
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
    response_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
