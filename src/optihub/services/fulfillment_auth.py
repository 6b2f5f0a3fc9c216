"""Sign-in for the fulfillment API (Blend dialect): ``/auth/login``, ``/auth/refresh`` and
``/auth/verify`` as a front for OptiHub's own users and token service.

* **Who**: OptiHub users (argon2id password hashes, verified by
  ``services.users.check_password`` before the sign-in's write transaction begins), with the
  same throttling as the staff sign-in page (``auth.throttle.LoginThrottle``: failures count
  per account and per address, and the two sign-ins share the counters).
* **What they get**: ordinary OptiHub access tokens (RFC 9068 JWTs from
  ``auth.tokens.TokenService``) for the first-party client ``optihub-fulfillment:<practice
  id>``, carrying ``fulfillment:read fulfillment:write`` and the one practice signed in to,
  valid 60 minutes (the vendor's; ``OPTIHUB_ACCESS_TOKEN_TTL_FULFILLMENT`` sets another),
  so the surface's bearer checks accept them like any app's token; and a
  refresh token valid 7 days. Both are stored as an OAuth token pair (``oauth_tokens``,
  ``services.oauth_tokens.record_issued``): the refresh token as its SHA-256 digest, the pair
  in a family, so revocation (``/oauth/revoke``-style family revocation, revoked-jti list)
  works as for the authorization server's tokens. The client id names the practice so rate
  limits keyed by client count per practice, not for every practice together.
* **Refresh** rotates as the authorization server does: a new access token and a new
  refresh token; the old refresh token is retired, and presenting a retired one again
  revokes the whole family (every pair since that sign-in, the newest included).
* **Switched off**: a practice with ``fulfillment_login_enabled`` false refuses sign-in and
  refresh (403, pointing to OAuth apps). Access tokens already issued live out their hour.

Layering: this module sits below ``auth``, so the token service and the throttle come in as
arguments (``TokenIssuer``, ``Throttle``: what ``TokenService`` and ``LoginThrottle`` do).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from optihub.db.base import utcnow
from optihub.db.models import Membership, OAuthToken, Practice, User
from optihub.db.session import Database
from optihub.errors import AuthError, BadRequest, Forbidden, RateLimited
from optihub.security import sha256_hex
from optihub.services import oauth_tokens, users

FIRST_PARTY_CLIENT = "optihub-fulfillment"
SCOPE = "fulfillment:read fulfillment:write"
ACCESS_TTL = timedelta(minutes=60)
REFRESH_TTL = timedelta(days=7)

SWITCHED_OFF = (
    "Signing in through the fulfillment API is switched off for this practice. Use an OAuth "
    "app instead: a practice owner connects it under Connected apps (/account/apps), or an "
    "operator registers one (optihub client create --scope 'fulfillment:read "
    "fulfillment:write'); its access tokens work on every fulfillment route."
)
BAD_CREDENTIALS = "The email and password don't match an account"
BAD_REFRESH = "The refresh token is not valid"


class IssuedAccessToken(Protocol):
    @property
    def token(self) -> str: ...
    @property
    def jti(self) -> str: ...
    @property
    def expires_at(self) -> datetime: ...


class TokenIssuer(Protocol):
    """What this module needs of ``auth.tokens.TokenService``."""

    def issue_access_token(
        self,
        *,
        client_id: str,
        subject: str,
        scope: str,
        practice_ids: list[int],
        ttl: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> IssuedAccessToken: ...


class Throttle(Protocol):
    """What this module needs of ``auth.throttle.LoginThrottle``."""

    def retry_after(self, email: str, address: str) -> int: ...
    def failed(self, email: str, address: str) -> None: ...
    def succeeded(self, email: str) -> None: ...


@dataclass(frozen=True)
class UserInfo:
    """The signed-in user as the dialect shows it (``role``: in ``practice_id``)."""

    id: uuid.UUID
    email: str
    first_name: str
    last_name: str
    role: str
    is_active: bool
    created_at: datetime
    updated_at: datetime
    practice_id: int


@dataclass(frozen=True)
class Issued:
    """A sign-in or refresh: the access token (``expires_at``) and refresh token."""

    access_token: str
    expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime
    user: UserInfo

    @property
    def scope(self) -> str:
        return SCOPE


def client_id_for(practice_id: int) -> str:
    """The first-party client id of the fulfillment sign-in for one practice."""
    return f"{FIRST_PARTY_CLIENT}:{practice_id}"


def is_first_party(client_id: str) -> bool:
    return client_id.startswith(FIRST_PARTY_CLIENT + ":")


def _membership(session: Session, user_id: uuid.UUID, practice_id: int) -> Membership | None:
    return session.get(Membership, (practice_id, user_id))


def _user_info(user: User, membership: Membership) -> UserInfo:
    return UserInfo(
        id=user.id,
        email=user.email,
        first_name=user.first_name,
        last_name=user.last_name,
        role=membership.role,
        is_active=user.is_active,
        created_at=user.created_at,
        updated_at=user.updated_at,
        practice_id=membership.practice_id,
    )


def _check_enabled(session: Session, practice_id: int) -> None:
    practice = session.get(Practice, practice_id)
    if practice is None or not practice.fulfillment_login_enabled:
        raise Forbidden(SWITCHED_OFF)


def _issue(
    session: Session,
    tokens: TokenIssuer,
    user: User,
    membership: Membership,
    family_id: uuid.UUID,
    access_ttl: timedelta,
) -> Issued:
    practice_ids = [membership.practice_id]
    client_id = client_id_for(membership.practice_id)
    access = tokens.issue_access_token(
        client_id=client_id,
        subject=str(user.id),
        scope=SCOPE,
        practice_ids=practice_ids,
        ttl=int(access_ttl.total_seconds()),
    )
    refresh_token = secrets.token_urlsafe(48)
    row = oauth_tokens.record_issued(
        session,
        family_id=family_id,
        client_id=client_id,
        user_id=user.id,
        practice_ids=practice_ids,
        scope=SCOPE,
        access_jti=access.jti,
        access_expires_at=access.expires_at,
        refresh_token=refresh_token,
    )
    refresh_expires_at = utcnow() + REFRESH_TTL
    row.refresh_expires_at = refresh_expires_at
    session.flush()
    return Issued(
        access_token=access.token,
        expires_at=access.expires_at,
        refresh_token=refresh_token,
        refresh_expires_at=refresh_expires_at,
        user=_user_info(user, membership),
    )


def refuse_if_throttled(throttle: Throttle, email: str, address: str) -> None:
    """Raises ``RateLimited`` (``retry_after_seconds``) while sign-ins for ``email`` or from
    ``address`` are throttled. Reads only the throttle's counters (no database, no hash)."""
    wait = throttle.retry_after(email, address)
    if wait:
        raise RateLimited(
            f"Too many failed sign-ins. Try again in {max(1, wait // 60)} minute(s).", wait
        )


def login(
    db: Database,
    tokens: TokenIssuer,
    email: str,
    password: str,
    *,
    throttle: Throttle,
    address: str,
    practice_id: int | None = None,
    access_ttl: timedelta = ACCESS_TTL,
) -> Issued:
    """Sign in with an OptiHub user's email and password (``address``: the caller's, for
    the per-address throttle). ``practice_id`` picks the practice for a user of several
    (OptiHub extension); a user of one practice needs none. The access token lives
    ``access_ttl``.

    Runs its own transactions (it takes the ``Database``): the password is verified first,
    holding no database connection (``users.check_password``), and only then is the
    sign-in recorded and the token pair issued in one short transaction, so a flood of
    sign-ins never holds the write lock while it hashes.

    Raises ``RateLimited`` (too many failures, ``retry_after_seconds``), ``AuthError`` 401
    ``invalid_credentials`` (unknown email, wrong password or deactivated user: one message),
    ``BadRequest`` ``practice_required`` (several practices, none named), ``Forbidden``
    (not a member of the named practice, or the practice switched the sign-in off).
    """
    refuse_if_throttled(throttle, email, address)
    checked = users.check_password(db, email, password)
    if checked is None:
        throttle.failed(email, address)
        raise AuthError(401, "invalid_credentials", BAD_CREDENTIALS)
    throttle.succeeded(email)
    with db.transaction() as session:
        user = users.record_sign_in(session, checked)
        if user is None:  # deactivated, or the password changed, since it was checked
            raise AuthError(401, "invalid_credentials", BAD_CREDENTIALS)
        membership = _practice_signed_in_to(session, user, practice_id)
        _check_enabled(session, membership.practice_id)
        return _issue(session, tokens, user, membership, uuid.uuid4(), access_ttl)


def _practice_signed_in_to(session: Session, user: User, practice_id: int | None) -> Membership:
    if practice_id is None:
        memberships = list(
            session.scalars(
                select(Membership)
                .where(Membership.user_id == user.id)
                .order_by(Membership.practice_id)
            )
        )
        if not memberships:
            raise Forbidden("This account belongs to no practice")
        if len(memberships) > 1:
            raise BadRequest(
                "This account belongs to several practices: name one with practice_id",
                code="practice_required",
                field="practice_id",
                allowed=[str(m.practice_id) for m in memberships],
            )
        return memberships[0]
    found = _membership(session, user.id, practice_id)
    if found is None:
        raise Forbidden(f"This account has no access to practice {practice_id}")
    return found


def refresh(
    db: Database, tokens: TokenIssuer, refresh_token: str, access_ttl: timedelta = ACCESS_TTL
) -> Issued:
    """A new access token (living ``access_ttl``) and a rotated refresh token for a
    fulfillment refresh token.

    Runs its own transactions (it takes the ``Database``, not a session): presenting a
    retired refresh token revokes its whole family and then refuses, and that revocation
    must be kept although the call fails. Raises ``AuthError`` 401 ``invalid_token`` (unknown,
    expired, revoked or retired token, a token of another app, a deactivated user or one no
    longer in the practice) or ``Forbidden`` (the practice switched the sign-in off).
    """
    issued: Issued | None = None
    with db.transaction() as session:
        row = session.scalar(
            select(OAuthToken)
            .where(OAuthToken.refresh_token_hash == sha256_hex(refresh_token))
            .with_for_update()
        )
        if row is None or not is_first_party(row.client_id) or row.revoked_at is not None:
            raise AuthError(401, "invalid_token", BAD_REFRESH)
        if row.rotated_at is not None:
            # Reuse of a retired refresh token: whoever holds the family may not be its owner.
            oauth_tokens.revoke_family(session, row.family_id)
        else:
            issued = _rotate(session, tokens, row, access_ttl)
    if issued is None:
        raise AuthError(
            401,
            "invalid_token",
            "The refresh token was already used: every token of this sign-in is now revoked",
        )
    return issued


def _rotate(
    session: Session, tokens: TokenIssuer, row: OAuthToken, access_ttl: timedelta
) -> Issued:
    now = utcnow()
    if row.refresh_expires_at is None or row.refresh_expires_at <= now:
        raise AuthError(401, "invalid_token", "The refresh token expired")
    practice_ids: Sequence[int] = row.practice_ids or ()
    user = session.get(User, row.user_id) if row.user_id else None
    membership = (
        _membership(session, user.id, int(practice_ids[0])) if user and practice_ids else None
    )
    if user is None or not user.is_active or membership is None:
        raise AuthError(401, "invalid_token", BAD_REFRESH)
    _check_enabled(session, membership.practice_id)
    row.rotated_at = now
    return _issue(session, tokens, user, membership, row.family_id, access_ttl)


def verify(session: Session, subject: str, practice_ids: Sequence[int]) -> UserInfo:
    """The user an access token (already verified by the surface's bearer check: its
    ``subject`` and ``practice_ids``) speaks for, with their role in the token's practice.
    Fulfillment sign-in tokens and OAuth apps' user tokens both work; a token without a
    user (client credentials) or of a deactivated or departed user gets ``AuthError`` 401.
    """
    try:
        user_id = uuid.UUID(subject)
    except ValueError:
        raise AuthError(401, "invalid_token", "The access token does not name a user") from None
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        raise AuthError(401, "invalid_token", "The access token's user is not active")
    for practice_id in practice_ids:
        membership = _membership(session, user.id, practice_id)
        if membership is not None:
            return _user_info(user, membership)
    raise AuthError(401, "invalid_token", "The access token's user has left its practice")
