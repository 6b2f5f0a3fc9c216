"""Fan outbox events out into one delivery per matching subscription."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from optihub.db.models import Event, WebhookDelivery, WebhookSubscription

# Renders an event's ``data`` for subscribers (the partner surface supplies the order shape).
Renderer = Callable[[Session, Event], dict[str, Any]]


def plain(_session: Session, event: Event) -> dict[str, Any]:
    return dict(event.data)


def relay_events(
    session: Session, now: datetime, render: Renderer = plain, batch: int = 200
) -> int:
    """Create deliveries for not-yet-relayed events, oldest first; returns events relayed.

    Runs in the caller's transaction; on PostgreSQL the events are claimed with
    ``FOR UPDATE SKIP LOCKED`` so several workers relay different events.
    """
    events = list(
        session.scalars(
            select(Event)
            .where(Event.relayed_at.is_(None))
            .order_by(Event.created_at, Event.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
    )
    if not events:
        return 0
    practices = {e.practice_id for e in events}
    subscriptions = list(
        session.scalars(
            select(WebhookSubscription).where(
                WebhookSubscription.practice_id.in_(practices),
                WebhookSubscription.enabled.is_(True),
            )
        )
    )
    for event in events:
        wanted = [
            s
            for s in subscriptions
            if s.practice_id == event.practice_id and ("*" in s.events or event.type in s.events)
        ]
        if wanted:
            body = orjson.dumps(
                {
                    "id": event.id,
                    "type": event.type,
                    "created_at": event.created_at.isoformat(),
                    "practice_id": event.practice_id,
                    "data": render(session, event),
                }
            ).decode()
            for subscription in wanted:
                session.add(
                    WebhookDelivery(
                        practice_id=event.practice_id,
                        subscription_id=subscription.id,
                        event_id=event.id,
                        payload=body,
                        next_attempt_at=now,
                        created_at=now,
                    )
                )
        event.relayed_at = now
    session.flush()
    return len(events)
