"""Patient links: a signed, expiring, revocable address that shows one order to its patient.

The token in the address is 22 characters of randomness (128 bits) followed by 22 of its
HMAC-SHA256 (truncated to 128 bits) under a key derived from the instance key
(``InstanceKey.derive("patient-link")``, handed in by the caller as ``LinkKey``). So:

* a guessed or altered token fails the signature check before any database read (no
  table to probe, nothing to time);
* the database keeps the SHA-256 of the token (the lookup) and its random part; the
  address can be written again (the order page shows it, the e-mail carries it) only with
  the instance key, so a copy of the database alone opens nothing;
* a link lives ``LINK_LIFETIME`` (30 days) unless revoked sooner.

Every function runs in the caller's transaction, scoped by practice, and audits changes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from optihub.db.base import utcnow
from optihub.db.models import Order, PatientLink
from optihub.errors import Conflict, NotFound
from optihub.security import sha256_hex
from optihub.services import audit
from optihub.services.context import Actor

LINK_LIFETIME = timedelta(days=30)
KEY_PURPOSE = "patient-link"
PATH_PREFIX = "/p/"
_PART = 22  # base64url characters of 16 bytes, unpadded
TOKEN_LENGTH = 2 * _PART
_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@dataclass(frozen=True)
class LinkKey:
    """The HMAC key patient-link tokens are signed with (derived from the instance key)."""

    secret: bytes

    @classmethod
    def of(cls, derived: str) -> LinkKey:
        return cls(derived.encode())

    def token(self, nonce: str) -> str:
        mac = hmac.new(self.secret, nonce.encode(), hashlib.sha256).digest()[:16]
        return nonce + _b64(mac)

    def nonce_of(self, token: str) -> str | None:
        """The random part of a well-formed, correctly signed token; else None."""
        if len(token) != TOKEN_LENGTH or not set(token) <= _ALPHABET:
            return None
        nonce = token[:_PART]
        return nonce if hmac.compare_digest(self.token(nonce), token) else None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def address(base_url: str, token: str) -> str:
    """The link as the patient opens it."""
    return base_url.rstrip("/") + PATH_PREFIX + token


@dataclass(frozen=True)
class IssuedLink:
    link: PatientLink
    token: str


class LinkState(StrEnum):
    LIVE = "live"
    EXPIRED = "expired"
    REVOKED = "revoked"


def state_of(link: PatientLink, now: datetime | None = None) -> LinkState:
    if link.revoked_at is not None:
        return LinkState.REVOKED
    if link.expires_at <= (now or utcnow()):
        return LinkState.EXPIRED
    return LinkState.LIVE


def _order(session: Session, practice_id: int, order_id: uuid.UUID) -> Order:
    order = session.scalar(
        select(Order).where(Order.practice_id == practice_id, Order.id == order_id)
    )
    if order is None:
        raise NotFound("Order", order_id)
    return order


def links_of(session: Session, practice_id: int, order_id: uuid.UUID) -> list[PatientLink]:
    """The order's links, newest first."""
    return list(
        session.scalars(
            select(PatientLink)
            .where(PatientLink.practice_id == practice_id, PatientLink.order_id == order_id)
            .order_by(PatientLink.created_at.desc(), PatientLink.id)
        )
    )


def live_link(
    session: Session, practice_id: int, order_id: uuid.UUID, now: datetime | None = None
) -> PatientLink | None:
    """The order's newest link that is neither revoked nor expired."""
    moment = now or utcnow()
    return session.scalar(
        select(PatientLink)
        .where(
            PatientLink.practice_id == practice_id,
            PatientLink.order_id == order_id,
            PatientLink.revoked_at.is_(None),
            PatientLink.expires_at > moment,
        )
        .order_by(PatientLink.created_at.desc())
        .limit(1)
    )


def create_link(
    session: Session,
    actor: Actor,
    order_id: uuid.UUID,
    key: LinkKey,
    *,
    lifetime: timedelta = LINK_LIFETIME,
    now: datetime | None = None,
) -> IssuedLink:
    """A new link to the actor's practice's order (``NotFound`` for another practice's or
    an unknown one; ``Conflict`` for a draft, which the patient has not ordered yet).
    Audited as ``patient_link.created``."""
    order = _order(session, actor.practice_id, order_id)
    if order.status == "draft":
        raise Conflict("A draft is not an order yet: submit it before sending the patient a link")
    moment = now or utcnow()
    nonce = _b64(secrets.token_bytes(16))
    token = key.token(nonce)
    link = PatientLink(
        practice_id=actor.practice_id,
        order_id=order.id,
        token_hash=sha256_hex(token),
        nonce=nonce,
        created_by_user_id=actor.user_id,
        created_at=moment,
        expires_at=moment + lifetime,
    )
    session.add(link)
    session.flush()
    audit.record(
        session,
        actor,
        "patient_link.created",
        "order",
        order.id,
        {"link_id": str(link.id), "expires_at": link.expires_at.isoformat()},
    )
    return IssuedLink(link, token)


def ensure_live_link(
    session: Session, actor: Actor, order_id: uuid.UUID, key: LinkKey, now: datetime | None = None
) -> IssuedLink:
    """The order's live link (its token written again with ``key``), or a new one."""
    link = live_link(session, actor.practice_id, order_id, now)
    if link is not None:
        return IssuedLink(link, key.token(link.nonce))
    return create_link(session, actor, order_id, key, now=now)


def revoke_link(
    session: Session, actor: Actor, order_id: uuid.UUID, link_id: uuid.UUID
) -> PatientLink:
    """Revoke one of the order's links at once (a link already revoked stays as it was).
    ``NotFound`` when the practice's order has no such link. Audited."""
    link = session.scalar(
        select(PatientLink).where(
            PatientLink.practice_id == actor.practice_id,
            PatientLink.order_id == order_id,
            PatientLink.id == link_id,
        )
    )
    if link is None:
        raise NotFound("Link", link_id)
    if link.revoked_at is None:
        link.revoked_at = utcnow()
        link.revoked_by_user_id = actor.user_id
        session.flush()
        audit.record(
            session, actor, "patient_link.revoked", "order", order_id, {"link_id": str(link.id)}
        )
    return link


@dataclass(frozen=True)
class Opened:
    """What a token opens: the link when it is live, else why not (``link`` is None for
    a token that is malformed, tampered with or unknown)."""

    state: LinkState | None
    link: PatientLink | None = None


def open_link(session: Session, key: LinkKey, token: str, now: datetime | None = None) -> Opened:
    """Look a token up: a signature check first (no read for a forged token), then the
    digest. Never raises."""
    if key.nonce_of(token) is None:
        return Opened(None)
    link = session.scalar(select(PatientLink).where(PatientLink.token_hash == sha256_hex(token)))
    if link is None:
        return Opened(None)
    state = state_of(link, now)
    return Opened(state, link if state == LinkState.LIVE else None)
