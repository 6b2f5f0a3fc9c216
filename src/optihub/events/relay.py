"""Fan outbox events out into one delivery per matching subscription, each event rendered
once per surface that has subscribers for it, in that surface's shape."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from optihub.db.models import Event, WebhookDelivery, WebhookSubscription

# Renders the whole delivery body of an event for one surface's subscribers (None: the
# surface does not deliver this event).
Renderer = Callable[[Session, Event], dict[str, Any] | None]


def plain(_session: Session, event: Event) -> dict[str, Any]:
    """OptiHub's own shape, for subscriptions of a surface this process does not know."""
    return {
        "id": event.id,
        "type": event.type,
        "created_at": event.created_at.isoformat(),
        "practice_id": event.practice_id,
        "data": dict(event.data),
    }


def relay_events(
    session: Session,
    now: datetime,
    renderers: Mapping[str, Renderer] | None = None,
    batch: int = 200,
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
        by_surface: defaultdict[str, list[WebhookSubscription]] = defaultdict(list)
        for subscription in wanted:
            by_surface[subscription.surface].append(subscription)
        for surface, subscribers in by_surface.items():
            shaped = (renderers or {}).get(surface, plain)(session, event)
            if shaped is None:
                continue
            body = orjson.dumps(shaped).decode()
            for subscription in subscribers:
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
