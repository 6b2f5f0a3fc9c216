"""Token bookkeeping for the authorization server: issued pairs, families, consents,
revocation. Access tokens themselves are self-contained JWTs; what is stored here lets us
rotate refresh tokens, detect their reuse and revoke whole families."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from optihub.db.base import utcnow
from optihub.db.models import (
    OAuthClient,
    OAuthConsent,
    OAuthToken,
    Practice,
    RevokedAccessToken,
)
from optihub.security import sha256_hex

REFRESH_TOKEN_TTL = timedelta(days=30)


def record_issued(
    session: Session,
    *,
    family_id: uuid.UUID,
    client_id: str,
    user_id: uuid.UUID | None,
    practice_ids: list[int],
    scope: str,
    access_jti: str,
    access_expires_at: datetime,
    refresh_token: str | None,
) -> OAuthToken:
    row = OAuthToken(
        family_id=family_id,
        client_id=client_id,
        user_id=user_id,
        practice_ids=practice_ids,
        scope=scope,
        access_jti=access_jti,
        access_expires_at=access_expires_at,
        refresh_token_hash=sha256_hex(refresh_token) if refresh_token else None,
        refresh_expires_at=utcnow() + REFRESH_TOKEN_TTL if refresh_token else None,
    )
    session.add(row)
    session.flush()
    return row


def find_by_refresh_token(session: Session, refresh_token: str) -> OAuthToken | None:
    return session.scalar(
        select(OAuthToken).where(OAuthToken.refresh_token_hash == sha256_hex(refresh_token))
    )


def find_by_access_jti(session: Session, jti: str) -> OAuthToken | None:
    return session.scalar(select(OAuthToken).where(OAuthToken.access_jti == jti))


def revoke_family(session: Session, family_id: uuid.UUID) -> None:
    """Revoke every pair of a family: refresh tokens die now, access tokens are listed as
    revoked until they expire (resource servers refuse them within seconds)."""
    now = utcnow()
    rows = list(session.scalars(select(OAuthToken).where(OAuthToken.family_id == family_id)))
    for row in rows:
        if row.revoked_at is None:
            row.revoked_at = now
        if row.access_expires_at > now:
            revoke_access_token(session, row.access_jti, row.access_expires_at)
    session.flush()


def revoke_access(session: Session, row: OAuthToken) -> None:
    revoke_access_token(session, row.access_jti, row.access_expires_at)
    session.flush()


def record_consent(
    session: Session, *, user_id: uuid.UUID, client_id: str, practice_id: int, scope: str
) -> None:
    consent = session.get(OAuthConsent, (user_id, client_id, practice_id))
    if consent is None:
        session.add(
            OAuthConsent(user_id=user_id, client_id=client_id, practice_id=practice_id, scope=scope)
        )
    else:
        consent.scope = scope
        consent.granted_at = utcnow()
        consent.revoked_at = None
    session.flush()


def connected_apps(
    session: Session, user_id: uuid.UUID
) -> list[tuple[OAuthConsent, OAuthClient, Practice]]:
    """The user's active consents with the app and practice they name, newest first."""
    rows = session.execute(
        select(OAuthConsent, OAuthClient, Practice)
        .join(OAuthClient, OAuthClient.client_id == OAuthConsent.client_id)
        .join(Practice, Practice.id == OAuthConsent.practice_id)
        .where(OAuthConsent.user_id == user_id, OAuthConsent.revoked_at.is_(None))
        .order_by(OAuthConsent.granted_at.desc())
    )
    return [(c, a, p) for c, a, p in rows]


def revoke_app(session: Session, user_id: uuid.UUID, client_id: str) -> None:
    """Withdraw every consent the user gave the app and revoke all its token families."""
    now = utcnow()
    session.execute(
        update(OAuthConsent)
        .where(OAuthConsent.user_id == user_id, OAuthConsent.client_id == client_id)
        .values(revoked_at=now)
    )
    families = set(
        session.scalars(
            select(OAuthToken.family_id).where(
                OAuthToken.user_id == user_id, OAuthToken.client_id == client_id
            )
        )
    )
    for family_id in families:
        revoke_family(session, family_id)


def revoke_access_token(session: Session, jti: str, expires_at: datetime) -> None:
    """Record a revoked access token until it would have expired anyway (resource servers
    reload the list every few seconds)."""
    if session.get(RevokedAccessToken, jti) is None:
        session.add(RevokedAccessToken(jti=jti, expires_at=expires_at))
