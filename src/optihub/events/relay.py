"""Fan outbox events out into one delivery per matching subscription and event code, each
code rendered once per surface that has subscribers for it, in that surface's shape.

A surface's subscribers choose among the surface's own *event codes*, which need not be
the core's event types: a surface's ``Shape`` says which codes a core event produces
(``codes``) and renders the delivery body of one code (``body``). A plain ``Renderer``
(``(session, event) -> body``) is a surface whose codes are the core's types.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import orjson
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from optihub.db.base import new_id
from optihub.db.models import Event, WebhookDelivery, WebhookSubscription
from optihub.events.bulk import insert_rows

# Renders the whole delivery body of an event for one surface's subscribers (None: the
# surface does not deliver this event); the event code is the event's type.
Renderer = Callable[[Session, Event], dict[str, Any] | None]

# What a subscription lists to get every code its surface offers.
ALL = "*"

# Another kind of delivery an event may ask for, made in the relay's transaction (the
# patient e-mails of ``events.mail``): called once per event, before it is marked relayed.
Reaction = Callable[[Session, Event, datetime], None]


@runtime_checkable
class Shape(Protocol):
    """How one surface's subscribers get events (``surfaces.kit.WebhookShape`` is one)."""

    def codes(self, type: str, data: Mapping[str, Any]) -> Sequence[str]:
        """The surface's event codes a core event (its type and data) produces, each once,
        in the order they are delivered (empty: none of its subscribers gets it)."""
        ...

    def body(self, session: Session, event: Event, code: str) -> dict[str, Any] | None:
        """The delivery body of ``event`` under ``code`` (None: not delivered)."""
        ...


def plain(_session: Session, event: Event) -> dict[str, Any]:
    """OptiHub's own shape, for subscriptions of a surface this process does not know."""
    return {
        "id": event.id,
        "type": event.type,
        "created_at": event.created_at.isoformat(),
        "practice_id": event.practice_id,
        "data": dict(event.data),
    }


class _Identity:
    """A ``Renderer`` as a ``Shape``: one code, the event's type."""

    def __init__(self, render: Renderer) -> None:
        self.render = render

    def codes(self, type: str, data: Mapping[str, Any]) -> Sequence[str]:
        return (type,)

    def body(self, session: Session, event: Event, code: str) -> dict[str, Any] | None:
        return self.render(session, event)


def as_shape(shape: Renderer | Shape) -> Shape:
    return shape if isinstance(shape, Shape) else _Identity(shape)


def webhook_id(event_id: str, event_type: str, code: str) -> str:
    """``X-Webhook-Id`` of a delivery: the event id when the code is the event's own type
    (every surface whose codes are the core's types), else ``{event id}:{code}`` (one event
    that produces two codes is two deliveries, each with its own stable id)."""
    return event_id if code == event_type else f"{event_id}:{code}"


def relay_events(
    session: Session,
    now: datetime,
    renderers: Mapping[str, Renderer | Shape] | None = None,
    batch: int = 200,
    reactions: Sequence[Reaction] = (),
) -> int:
    """Create deliveries for not-yet-relayed events, oldest first; returns events relayed.

    A subscription gets one delivery per code of the event that it lists (``*``: every
    code its surface offers), so a subscription to everything gets each code once.
    Each of ``reactions`` is then called with the event (other kinds of delivery).
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
    shapes = {name: as_shape(shape) for name, shape in (renderers or {}).items()}
    fallback = _Identity(plain)
    # Written in two statements for the whole batch (one insert, one update), not an ORM
    # object per row: the relay was most of the worker's time per delivery.
    deliveries: list[dict[str, Any]] = []
    for event in events:
        by_surface: dict[str, list[WebhookSubscription]] = {}
        for subscription in subscriptions:
            if subscription.practice_id == event.practice_id:
                by_surface.setdefault(subscription.surface, []).append(subscription)
        for surface, subscribers in by_surface.items():
            shape = shapes.get(surface, fallback)
            for code in dict.fromkeys(shape.codes(event.type, event.data)):
                wanted = [s for s in subscribers if ALL in s.events or code in s.events]
                if not wanted:
                    continue
                shaped = shape.body(session, event, code)
                if shaped is None:
                    continue
                body = orjson.dumps(shaped).decode()
                deliveries += [
                    {
                        "id": new_id(),
                        "practice_id": event.practice_id,
                        "subscription_id": subscription.id,
                        "event_id": event.id,
                        "event_code": code,
                        "payload": body,
                        "status": "pending",
                        "attempt_count": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                    }
                    for subscription in wanted
                ]
        for react in reactions:
            react(session, event, now)
    insert_rows(session, WebhookDelivery.__table__, deliveries)
    events_table = Event.__table__
    session.execute(
        update(events_table)
        .where(events_table.c.id.in_([event.id for event in events]))
        .values(relayed_at=now)
    )
    for event in events:  # as stored (the session's copies are not read again here)
        set_committed_value(event, "relayed_at", now)
    session.flush()
    return len(events)
