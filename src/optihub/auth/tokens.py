"""Access tokens: JWTs per RFC 9068, signed with the key ring, verified locally.

Claims: ``iss``, ``aud``, ``sub`` (user id, or the client id for client credentials),
``client_id``, ``iat``, ``exp``, ``jti``, ``scope`` (space-separated) and ``practice_ids``
(the practices granted at consent / connected for the app). Verification needs no database
query: signature against the cached JWKS, claims checked, and ``jti`` against a revocation
list that is refreshed from the database at most every ``revocation_refresh_seconds``.

A verified token is remembered by its SHA-256 digest until it expires, so a client's
repeated calls cost a dictionary lookup, not an ECDSA verification. Expiry, revocation and
the signing key still being published are checked on every use.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jws import extract_compact
from sqlalchemy import bindparam, select

from optihub.auth.keys import ALGORITHM, KeyRing
from optihub.db.base import utcnow
from optihub.db.models import RevokedAccessToken
from optihub.db.session import Database

LEEWAY_SECONDS = 30
VERIFIED_CACHE_SIZE = 10_000


class InvalidToken(Exception):
    """The bearer token cannot be used; ``reason`` is safe to show the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class AccessToken:
    token: str
    jti: str
    expires_at: datetime
    expires_in: int


@dataclass(frozen=True)
class AccessTokenClaims:
    subject: str
    client_id: str
    scopes: frozenset[str]
    practice_ids: tuple[int, ...]
    jti: str
    expires_at: int
    raw: dict[str, Any]
    kid: str = ""


_LIVE_REVOCATIONS = select(RevokedAccessToken.jti).where(
    RevokedAccessToken.expires_at > bindparam("now")
)


class RevocationList:
    """Revoked access-token ids, cached in memory and refreshed every few seconds."""

    def __init__(self, db: Database, refresh_seconds: float = 2.0) -> None:
        self._db = db
        self._refresh_seconds = refresh_seconds
        self._loaded_at = -1e9
        self._jtis: frozenset[str] = frozenset()
        self._lock = threading.Lock()
        self._sql: tuple[str, Any] | None = None

    @property
    def stale(self) -> bool:
        return time.monotonic() - self._loaded_at > self._refresh_seconds

    @property
    def due(self) -> bool:
        """Half-way to stale: time to reload in the background, before anyone must wait."""
        return time.monotonic() - self._loaded_at > self._refresh_seconds / 2

    def refresh(self) -> None:
        with self._db.reading() as connection:
            jtis = frozenset(connection.scalars(_LIVE_REVOCATIONS, {"now": utcnow()}))
        self._loaded(jtis)

    async def refresh_async(self) -> None:
        """``refresh`` on the event loop: one statement on the loop's own read connection
        (PostgreSQL: awaited, the loop serves other requests meanwhile), no worker thread to
        contend with the loop for the interpreter."""
        sql, now = self._statement()
        rows = await self._db.fetch_raw_async(sql, [now(utcnow())])
        self._loaded(frozenset(row[0] for row in rows))

    def _statement(self) -> tuple[str, Any]:
        """The statement in the database's own parameter style, and the column's conversion
        of its parameter (SQLite stores timestamps as text)."""
        if self._sql is None:
            dialect = self._db.engine.dialect
            column = RevokedAccessToken.__table__.c.expires_at
            processor = column.type.dialect_impl(dialect).bind_processor(dialect)
            sql = (
                "SELECT jti FROM revoked_access_tokens"  # noqa: S608 (a placeholder, no value)
                f" WHERE expires_at > {self._db.placeholder}"
            )
            self._sql = (sql, processor or (lambda value: value))
        return self._sql

    def _loaded(self, jtis: frozenset[str]) -> None:
        with self._lock:
            self._jtis = jtis
            self._loaded_at = time.monotonic()

    def is_revoked(self, jti: str) -> bool:
        # On the event loop the caller refreshed the list just before, without blocking
        # (``auth.resource``'s fresh caches); a synchronous reload there would stall it.
        if self.stale and not _on_event_loop():
            self.refresh()
        return jti in self._jtis


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class TokenService:
    def __init__(
        self,
        keyring: KeyRing,
        revocations: RevocationList,
        *,
        issuer: str,
        audience: str,
        access_token_ttl: int = 900,
    ) -> None:
        self.keyring = keyring
        self.revocations = revocations
        self.issuer = issuer
        self.audience = audience
        self.access_token_ttl = access_token_ttl
        self._verified: dict[bytes, AccessTokenClaims] = {}

    def issue_access_token(
        self,
        *,
        client_id: str,
        subject: str,
        scope: str,
        practice_ids: list[int],
        ttl: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> AccessToken:
        """Sign a new access token; the caller records ``jti`` where it tracks tokens."""
        lifetime = ttl or self.access_token_ttl
        now = int(time.time())
        jti = secrets.token_urlsafe(16)
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "client_id": client_id,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "jti": jti,
            "scope": scope,
            "practice_ids": list(practice_ids),
            **(extra or {}),
        }
        key = self.keyring.signing_key
        header = {"alg": ALGORITHM, "typ": "at+jwt", "kid": key.kid}
        return AccessToken(
            token=jwt.encode(header, claims, key),
            jti=jti,
            expires_at=datetime.fromtimestamp(now + lifetime, UTC),
            expires_in=lifetime,
        )

    def sign_id_token(self, claims: dict[str, Any], ttl: int = 3600) -> str:
        """An OIDC id_token (``typ: JWT``) for ``claims`` (sub, aud=client_id, nonce...)."""
        now = int(time.time())
        key = self.keyring.signing_key
        body = {"iss": self.issuer, "iat": now, "exp": now + ttl, **claims}
        return jwt.encode({"alg": ALGORITHM, "typ": "JWT", "kid": key.kid}, body, key)

    def verify(self, token: str, *, check_revoked: bool = True) -> AccessTokenClaims:
        """Check signature, type, issuer, audience, lifetime and revocation.

        Raises ``InvalidToken`` with a reason a caller may see.
        """
        digest = hashlib.sha256(token.encode()).digest()
        claims = self._verified.get(digest)
        if claims is None or claims.kid not in self.keyring.published_kids:
            claims = self._verify_signed(token)
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                self._verified.clear()
            self._verified[digest] = claims
        if time.time() > claims.expires_at + LEEWAY_SECONDS:
            self._verified.pop(digest, None)
            raise InvalidToken("The access token expired")
        if check_revoked and self.revocations.is_revoked(claims.jti):
            raise InvalidToken("The access token was revoked")
        return claims

    def _verify_signed(self, token: str) -> AccessTokenClaims:
        try:
            header = extract_compact(token.encode()).protected
        except (JoseError, ValueError, UnicodeError) as exc:
            raise InvalidToken("The access token is malformed") from exc
        if header.get("typ") != "at+jwt" or header.get("alg") != ALGORITHM:
            raise InvalidToken("Not an OptiHub access token")
        try:
            decoded = jwt.decode(
                token, self.keyring.public_keys(header.get("kid")), algorithms=[ALGORITHM]
            )
        except (JoseError, ValueError) as exc:
            raise InvalidToken("The access token signature is not valid") from exc
        claims = decoded.claims
        registry = jwt.JWTClaimsRegistry(
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.audience},
            exp={"essential": True},
            sub={"essential": True},
            jti={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            if "exp" in str(exc) or "expired" in str(exc).lower():
                raise InvalidToken("The access token expired") from exc
            raise InvalidToken("The access token is not valid for this server") from exc
        return AccessTokenClaims(
            subject=str(claims["sub"]),
            client_id=str(claims.get("client_id", "")),
            scopes=frozenset(str(claims.get("scope", "")).split()),
            practice_ids=tuple(int(p) for p in claims.get("practice_ids", [])),
            jti=str(claims["jti"]),
            expires_at=int(claims["exp"]),
            raw=dict(claims),
            kid=str(header.get("kid", "")),
        )
