"""Webhook subscriptions: create, change, delete, list with delivery status.

Signing secrets are encrypted at rest with the instance key and returned once, at creation.
URLs are checked and normalized here, for every surface alike (``events.addresses``): well
formed (no control characters, spaces or backslashes, a port in 1–65535, ...), https, and
resolving only to public addresses unless the operator allow-lists the host
(``OPTIHUB_WEBHOOK_ALLOWED_HOSTS``: names or CIDRs). The normal form is what is stored;
the delivery worker checks again at each delivery, so a name that later resolves inward
is still refused.

A subscription belongs to a surface and lists some of that surface's event codes
(``event_types``: the surface's ``WebhookShape.events``, which need not be the core's event
types), or ``*`` for all of them (a dialect's ``"all"`` is stored as ``["*"]``). The relay
(``events.relay``) turns each core event into the codes it produces and delivers each code
once to every subscription that lists it.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from optihub.db.base import utcnow
from optihub.db.models import Event, WebhookAttempt, WebhookDelivery, WebhookSubscription
from optihub.domain.events import EVENT_TYPES
from optihub.errors import BadRequest, FieldError, NotFound, ValidationFailed
from optihub.events.addresses import (
    AddressRefused,
    MalformedUrl,
    destination,
    normalize,
    resolve,
)
from optihub.services import audit
from optihub.services.context import Actor


class Encrypter(Protocol):
    """What the service needs of the instance key."""

    def encrypt(self, plaintext: str) -> str: ...


def _check(
    url: str | None,
    events: Sequence[str] | None,
    allowed: Sequence[str],
    event_types: Sequence[str] = EVENT_TYPES,
) -> str | None:
    """The URL's normal form (None when not given). A malformed URL is a ``BadRequest``
    naming ``url`` (a 400 on every surface, as a malformed body is); a refused address or
    unknown events a ``ValidationFailed`` naming ``url`` or ``events``."""
    errors = []
    normal = None
    if url is not None:
        try:
            normal = destination(url, allowed, resolve).url
        except MalformedUrl as malformed:
            raise BadRequest(f"url: {malformed}", field="url") from None
        except AddressRefused as refused:
            errors.append(FieldError("url", str(refused)))
    if events is not None:
        unknown = [e for e in events if e != "*" and e not in event_types]
        if unknown:
            errors.append(FieldError("events", f"Unknown events: {', '.join(unknown)}."))
    if errors:
        raise ValidationFailed(errors)
    return normal


def create_subscription(
    session: Session,
    actor: Actor,
    *,
    surface: str,
    url: str,
    events: list[str],
    enabled: bool,
    description: str | None,
    key: Encrypter,
    allowed_hosts: Sequence[str],
    event_types: Sequence[str] = EVENT_TYPES,
) -> tuple[WebhookSubscription, str]:
    """Create a subscription of ``surface`` (its subscribers get events in its shape);
    returns it with its signing secret (shown once). ``event_types``: what it offers.
    The URL is stored in its normal form; a refused URL or event raises (``_check``) before
    anything is written."""
    url = _check(url, events, allowed_hosts, event_types) or url
    secret = "whsec_" + secrets.token_urlsafe(32)
    subscription = WebhookSubscription(
        practice_id=actor.practice_id,
        surface=surface,
        client_id=actor.client_id,
        url=url,
        events=list(dict.fromkeys(events)),
        enabled=enabled,
        description=description,
        secret_ciphertext=key.encrypt(secret),
        last_status="disabled" if not enabled else None,
    )
    session.add(subscription)
    session.flush()
    audit.record(session, actor, "webhook.created", "webhook", subscription.id, {"url": url})
    return subscription, secret


def get_subscription(
    session: Session, practice_id: int, surface: str, subscription_id: uuid.UUID
) -> WebhookSubscription:
    """The practice's subscription on ``surface`` (another surface's is not found)."""
    subscription = session.scalar(
        select(WebhookSubscription).where(
            WebhookSubscription.practice_id == practice_id,
            WebhookSubscription.surface == surface,
            WebhookSubscription.id == subscription_id,
        )
    )
    if subscription is None:
        raise NotFound("Webhook", subscription_id)
    return subscription


def secret_for_url(session: Session, practice_id: int, surface: str, url: str) -> str | None:
    """The encrypted signing secret of the practice's first subscription on ``surface`` to
    ``url`` (compared in its normal form, and as given for rows stored before URLs were
    normalized), or None when it subscribed none (a malformed URL never is)."""
    try:
        forms = sorted({url, normalize(url)})
    except MalformedUrl:
        return None
    return session.scalar(
        select(WebhookSubscription.secret_ciphertext)
        .where(
            WebhookSubscription.practice_id == practice_id,
            WebhookSubscription.surface == surface,
            WebhookSubscription.url.in_(forms),
        )
        .order_by(WebhookSubscription.created_at)
        .limit(1)
    )


def update_subscription(
    session: Session,
    actor: Actor,
    surface: str,
    subscription_id: uuid.UUID,
    *,
    url: str | None,
    events: list[str] | None,
    enabled: bool | None,
    description: str | None,
    allowed_hosts: Sequence[str],
    event_types: Sequence[str] = EVENT_TYPES,
) -> WebhookSubscription:
    """Change url / events / enabled. Re-enabling clears the failure count and reason.
    The URL is checked and normalized as at creation, before anything is written."""
    subscription = get_subscription(session, actor.practice_id, surface, subscription_id)
    url = _check(url, events, allowed_hosts, event_types)
    if url is not None:
        subscription.url = url
    if events is not None:
        subscription.events = list(dict.fromkeys(events))
    if description is not None:
        subscription.description = description
    if enabled is not None and enabled != subscription.enabled:
        subscription.enabled = enabled
        if enabled:
            subscription.consecutive_failures = 0
            subscription.disabled_reason = None
            subscription.disabled_at = None
            subscription.last_status = None
        else:
            subscription.disabled_at = utcnow()
            subscription.disabled_reason = "Disabled by the subscriber"
            subscription.last_status = "disabled"
    session.flush()
    audit.record(session, actor, "webhook.updated", "webhook", subscription.id)
    return subscription


def delete_subscription(
    session: Session, actor: Actor, surface: str, subscription_id: uuid.UUID
) -> None:
    subscription = get_subscription(session, actor.practice_id, surface, subscription_id)
    session.delete(subscription)
    session.flush()
    audit.record(session, actor, "webhook.deleted", "webhook", subscription_id)


@dataclass(frozen=True)
class SubscriptionStatus:
    subscription: WebhookSubscription
    pending_deliveries: int


def list_subscriptions(
    session: Session, practice_id: int, surface: str
) -> list[SubscriptionStatus]:
    subscriptions = list(
        session.scalars(
            select(WebhookSubscription)
            .where(
                WebhookSubscription.practice_id == practice_id,
                WebhookSubscription.surface == surface,
            )
            .order_by(WebhookSubscription.created_at)
        )
    )
    pending: dict[uuid.UUID, int] = dict(
        session.execute(
            select(WebhookDelivery.subscription_id, func.count())
            .where(WebhookDelivery.practice_id == practice_id, WebhookDelivery.status == "pending")
            .group_by(WebhookDelivery.subscription_id)
        ).all()
    )
    return [SubscriptionStatus(s, pending.get(s.id, 0)) for s in subscriptions]


@dataclass(frozen=True)
class DeliveryRecord:
    delivery: WebhookDelivery
    # The core event's type; ``event_code`` is what the surface's subscriber was sent.
    event_type: str
    attempts: list[WebhookAttempt]

    @property
    def event_code(self) -> str:
        """The surface's event code this delivery announced (the event's type on surfaces
        whose codes are the core's types)."""
        return self.delivery.event_code


def list_deliveries(
    session: Session, practice_id: int, surface: str, subscription_id: uuid.UUID, limit: int = 50
) -> list[DeliveryRecord]:
    """The subscription's most recent deliveries with their attempt log, newest first."""
    get_subscription(session, practice_id, surface, subscription_id)
    rows = list(
        session.execute(
            select(WebhookDelivery, Event.type)
            .join(Event, Event.id == WebhookDelivery.event_id)
            .where(
                WebhookDelivery.practice_id == practice_id,
                WebhookDelivery.subscription_id == subscription_id,
            )
            .order_by(WebhookDelivery.created_at.desc())
            .limit(limit)
        ).all()
    )
    attempts: dict[uuid.UUID, list[WebhookAttempt]] = {d.id: [] for d, _ in rows}
    if attempts:
        for attempt in session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(list(attempts)))
            .order_by(WebhookAttempt.attempted_at)
        ):
            attempts[attempt.delivery_id].append(attempt)
    return [DeliveryRecord(d, t, attempts[d.id]) for d, t in rows]


def redeliver(
    session: Session,
    practice_id: int,
    surface: str,
    subscription_id: uuid.UUID,
    delivery_id: uuid.UUID,
) -> DeliveryRecord:
    """Queue a delivery again now (same event id and body), whatever its state."""
    get_subscription(session, practice_id, surface, subscription_id)
    row = session.execute(
        select(WebhookDelivery, Event.type)
        .join(Event, Event.id == WebhookDelivery.event_id)
        .where(
            WebhookDelivery.practice_id == practice_id,
            WebhookDelivery.subscription_id == subscription_id,
            WebhookDelivery.id == delivery_id,
        )
    ).first()
    if row is None:
        raise NotFound("Delivery", delivery_id)
    delivery, event_type = row
    delivery.status = "pending"
    delivery.next_attempt_at = utcnow()
    delivery.locked_until = None
    delivery.locked_by = None
    session.flush()
    return DeliveryRecord(delivery, event_type, [])


def practice_subscriptions(session: Session, practice_id: int) -> list[SubscriptionStatus]:
    """Every subscription of the practice, of every surface, by surface then age (the
    dashboard's list: each surface's own API lists only its own)."""
    subscriptions = list(
        session.scalars(
            select(WebhookSubscription)
            .where(WebhookSubscription.practice_id == practice_id)
            .order_by(WebhookSubscription.surface, WebhookSubscription.created_at)
        )
    )
    pending: dict[uuid.UUID, int] = dict(
        session.execute(
            select(WebhookDelivery.subscription_id, func.count())
            .where(WebhookDelivery.practice_id == practice_id, WebhookDelivery.status == "pending")
            .group_by(WebhookDelivery.subscription_id)
        ).all()
    )
    return [SubscriptionStatus(s, pending.get(s.id, 0)) for s in subscriptions]


def find_subscription(
    session: Session, practice_id: int, subscription_id: uuid.UUID
) -> WebhookSubscription:
    """The practice's subscription of whichever surface (another practice's is not found)."""
    subscription = session.scalar(
        select(WebhookSubscription).where(
            WebhookSubscription.practice_id == practice_id,
            WebhookSubscription.id == subscription_id,
        )
    )
    if subscription is None:
        raise NotFound("Webhook", subscription_id)
    return subscription
