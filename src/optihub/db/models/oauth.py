"""OAuth 2.1 / OpenID Connect: clients, codes, token families, consents, signing keys."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Column, ForeignKey, Index, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from optihub.db.base import Base, new_id, utcnow

# Practices that connected an app: it may act for them with client credentials.
oauth_client_practices = Table(
    "oauth_client_practices",
    Base.metadata,
    Column("client_pk", ForeignKey("oauth_clients.id", ondelete="CASCADE"), primary_key=True),
    Column("practice_id", ForeignKey("practices.id", ondelete="CASCADE"), primary_key=True),
    Index(None, "practice_id"),
)


class OAuthClient(Base):
    __tablename__ = "oauth_clients"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    client_id: Mapped[str] = mapped_column(String(100), unique=True)
    # argon2 hash; NULL for public clients.
    client_secret_hash: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(200))
    redirect_uris: Mapped[list[Any]] = mapped_column(default=list)
    scope: Mapped[str] = mapped_column(Text, default="")
    is_public: Mapped[bool] = mapped_column(Boolean, default=False)
    owner_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()
    # The app's own request rate on every rate-limited surface (e.g. "250/minute", a
    # ``limits`` string); NULL: each surface's default.
    rate_limit: Mapped[str | None] = mapped_column(String(30))
    # How the app authenticates at the token endpoints (RFC 7591 names): "none" (public),
    # "client_secret_basic" (a secret, Basic or form), "private_key_jwt" (a JWT assertion
    # signed with one of its keys, RFC 7523; no secret).
    token_endpoint_auth_method: Mapped[str] = mapped_column(
        String(30), default="client_secret_basic", server_default="client_secret_basic"
    )
    # A private_key_jwt app's public keys: a JWKS (JSON text, public members only) or the
    # https address where it publishes one; exactly one of the two.
    jwks: Mapped[str | None] = mapped_column(Text)
    jwks_uri: Mapped[str | None] = mapped_column(String(2000))


class OAuthAuthorizationCode(Base):
    __tablename__ = "oauth_authorization_codes"
    __table_args__ = (Index(None, "expires_at"),)

    # SHA-256 of the code: a database read never reveals a usable code.
    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    practice_ids: Mapped[list[Any]] = mapped_column(default=list)
    redirect_uri: Mapped[str] = mapped_column(String(2000))
    scope: Mapped[str] = mapped_column(Text)
    nonce: Mapped[str | None] = mapped_column(String(255))
    code_challenge: Mapped[str] = mapped_column(String(128))
    code_challenge_method: Mapped[str] = mapped_column(String(10))
    auth_time: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()
    # The token family issued from it, revoked if the code is replayed.
    family_id: Mapped[uuid.UUID | None] = mapped_column()


class OAuthToken(Base):
    """One issued access/refresh pair. Rotation links pairs into a family."""

    __tablename__ = "oauth_tokens"
    __table_args__ = (
        Index(None, "family_id"),
        Index(None, "client_id", "user_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    family_id: Mapped[uuid.UUID] = mapped_column(default=new_id)
    client_id: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    practice_ids: Mapped[list[Any]] = mapped_column(default=list)
    scope: Mapped[str] = mapped_column(Text)
    access_jti: Mapped[str] = mapped_column(String(64), unique=True)
    access_expires_at: Mapped[datetime] = mapped_column()
    refresh_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    refresh_expires_at: Mapped[datetime | None] = mapped_column()
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    rotated_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class OAuthConsent(Base):
    __tablename__ = "oauth_consents"
    __table_args__ = (Index(None, "practice_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    client_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    practice_id: Mapped[int] = mapped_column(
        ForeignKey("practices.id", ondelete="CASCADE"), primary_key=True
    )
    scope: Mapped[str] = mapped_column(Text)
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()


class SigningKey(Base):
    """A JWT signing key. The private half is encrypted with the instance key."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(10))
    private_jwk_ciphertext: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    retired_at: Mapped[datetime | None] = mapped_column()


class UsedClientAssertion(Base):
    """The ``jti`` of each client assertion (private_key_jwt) accepted, kept until the
    assertion expires so it cannot be presented again, whichever process it reaches."""

    __tablename__ = "oauth_client_assertions"
    __table_args__ = (Index(None, "expires_at"),)

    client_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    jti: Mapped[str] = mapped_column(String(255), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime] = mapped_column(default=utcnow)


class RevokedAccessToken(Base):
    """Access-token ids revoked before expiry; resource servers honour them until ``expires_at``."""

    __tablename__ = "revoked_access_tokens"
    __table_args__ = (Index(None, "expires_at"),)

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime] = mapped_column(default=utcnow)
