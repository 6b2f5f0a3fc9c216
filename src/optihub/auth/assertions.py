"""Client authentication by signed JWT assertion (``private_key_jwt``: RFC 7523 §2.2 and
§3, as SMART Backend Services profiles it).

The app sends ``client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer``
and ``client_assertion=<JWT>``. The JWT is accepted when:

* its header's ``alg`` is one of ``SIGNING_ALGORITHMS`` (RS384, ES384; nothing else);
* ``iss`` and ``sub`` are both the client id of an active app registered for
  ``private_key_jwt`` (and equal the form's ``client_id`` when one is sent);
* it verifies with the app's key named by ``kid`` (registered inline or published at its
  ``jwks_uri``; without a kid, with any of its keys of the algorithm's type);
* ``aud`` is (or, as an array, holds) the token endpoint's URL;
* ``exp`` is present, not past (``LEEWAY_SECONDS``) and at most ``MAX_LIFETIME_SECONDS``
  ahead; ``nbf``, when present, is not ahead;
* ``jti`` is present and was never used by the app (kept in the database until the
  assertion expires, so a replay is refused by every process).

Everything here runs in a worker thread before the request's transaction, as a secret's
verification does (``auth.client_auth``): the key set may be fetched, and the ``jti`` is
recorded in its own short transaction. A refusal is ``AssertionRefused`` whose reason the
token endpoint sends as ``invalid_client``'s ``error_description``.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jws import extract_compact
from sqlalchemy.exc import IntegrityError

from optihub.auth.client_keys import ClientKeySource, KeySet, KeysUnavailable
from optihub.db.models import OAuthClient
from optihub.db.session import Database
from optihub.errors import Conflict
from optihub.security import sha256_hex
from optihub.services import client_keys, oauth_clients

ASSERTION_TYPE = client_keys.ASSERTION_TYPE
SIGNING_ALGORITHMS = client_keys.SIGNING_ALGORITHMS
MAX_LIFETIME_SECONDS = 300
LEEWAY_SECONDS = 30
MAX_ASSERTION_LENGTH = 16 * 1024
MAX_JTI_LENGTH = 255
PRUNE_EVERY_SECONDS = 60.0
KEY_TYPES = {"RS": "RSA", "ES": "EC"}
UNKNOWN_CLIENT = (
    "Unknown client, or the app is not registered to authenticate with signed assertions "
    "(private_key_jwt)"
)


class AssertionRefused(Exception):
    """The assertion does not authenticate the app; ``reason`` is safe to show it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class VerifiedAssertion:
    """An assertion that authenticated ``client_id`` (its jti now spent)."""

    client_id: str
    assertion_digest: str  # SHA-256 of the assertion

    def matches(self, row: OAuthClient, assertion: str) -> bool:
        """The same app, still a key app, and the same assertion."""
        return (
            row.client_id == self.client_id
            and row.token_endpoint_auth_method == client_keys.PRIVATE_KEY_JWT
            and hmac.compare_digest(sha256_hex(assertion), self.assertion_digest)
        )


def unverified_parts(assertion: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of a compact JWT, not verified; ``AssertionRefused`` when it
    is not one."""
    if len(assertion) > MAX_ASSERTION_LENGTH:
        raise AssertionRefused("The client assertion is too long")
    try:
        compact = extract_compact(assertion.encode())
        claims = json.loads(compact.payload)
    except (JoseError, ValueError, UnicodeError):
        raise AssertionRefused("The client assertion is not a signed JWT") from None
    if not isinstance(claims, dict):
        raise AssertionRefused("The client assertion's claims are not a JSON object")
    return dict(compact.protected), claims


def claimed_client_id(assertion: str) -> str:
    """The client id an assertion claims (its ``iss``), unverified; "" when none: for
    throttling failures per client id before anything is verified."""
    try:
        _header, claims = unverified_parts(assertion)
    except AssertionRefused:
        return ""
    issuer = claims.get("iss")
    return issuer if isinstance(issuer, str) else ""


class AssertionVerifier:
    """Verifies client assertions against the apps' keys; records their ``jti``."""

    def __init__(self, db: Database, keys: ClientKeySource, token_endpoint: str) -> None:
        self.db = db
        self.keys = keys
        self.token_endpoint = token_endpoint
        self._pruned_at = -1e9
        self._prune_lock = threading.Lock()

    def verify(self, assertion: str, form_client_id: str | None = None) -> VerifiedAssertion:
        """The app ``assertion`` authenticates, its jti recorded; or ``AssertionRefused``."""
        header, claims = unverified_parts(assertion)
        alg = header.get("alg")
        if alg not in SIGNING_ALGORITHMS:
            raise AssertionRefused(
                f"The client assertion must be signed with {' or '.join(SIGNING_ALGORITHMS)}"
                f" (its alg is {str(alg)[:20]!r})"
            )
        client_id = claims.get("iss")
        if not isinstance(client_id, str) or not client_id:
            raise AssertionRefused("The client assertion has no iss (the client id)")
        if claims.get("sub") != client_id:
            raise AssertionRefused("The client assertion's iss and sub must both be the client id")
        if form_client_id is not None and form_client_id != client_id:
            raise AssertionRefused("client_id does not match the client assertion's iss")
        row = self._key_app(client_id)
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise AssertionRefused("The client assertion's kid is not a text")
        verified_claims = self._verified_signature(assertion, row, str(alg), kid)
        expires_at = self._checked_claims(verified_claims)
        self._spend(client_id, str(verified_claims["jti"]), expires_at)
        return VerifiedAssertion(client_id, sha256_hex(assertion))

    def _key_app(self, client_id: str) -> OAuthClient:
        with self.db.read_sessions() as session:
            row = oauth_clients.get_client(session, client_id)
        if row is None or row.token_endpoint_auth_method != client_keys.PRIVATE_KEY_JWT:
            raise AssertionRefused(UNKNOWN_CLIENT)
        return row

    def _key_set(self, row: OAuthClient, kid: str | None) -> KeySet:
        try:
            if row.jwks:
                return self.keys.inline(row.jwks)
            if row.jwks_uri:
                return self.keys.at(row.jwks_uri, kid)
        except KeysUnavailable as unavailable:
            raise AssertionRefused(unavailable.reason) from None
        raise AssertionRefused("The app has no public keys registered")

    def _verified_signature(
        self, assertion: str, row: OAuthClient, alg: str, kid: str | None
    ) -> dict[str, Any]:
        keys = self._key_set(row, kid)
        candidates = keys.candidates(kid, KEY_TYPES[alg[:2]])
        if not candidates:
            if kid is not None:
                raise AssertionRefused(f"The app has no {alg} key with kid {kid[:100]!r}")
            raise AssertionRefused(f"The app has no key that can verify {alg}")
        for key in candidates:
            try:
                return dict(jwt.decode(assertion, key, algorithms=[alg]).claims)
            except (JoseError, ValueError):
                continue
        raise AssertionRefused(
            "The client assertion's signature does not verify with the app's keys"
        )

    def _checked_claims(self, claims: dict[str, Any]) -> datetime:
        """The assertion's expiry once its audience, lifetime and jti are checked."""
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.token_endpoint not in audiences:
            raise AssertionRefused(
                f"The client assertion's aud must be the token endpoint, {self.token_endpoint}"
            )
        now = time.time()
        expires = claims.get("exp")
        if not isinstance(expires, int | float) or isinstance(expires, bool):
            raise AssertionRefused("The client assertion has no exp (expiry time)")
        if expires < now - LEEWAY_SECONDS:
            raise AssertionRefused("The client assertion expired")
        if expires > now + MAX_LIFETIME_SECONDS + LEEWAY_SECONDS:
            raise AssertionRefused(
                "The client assertion's exp is more than 5 minutes in the future"
            )
        not_before = claims.get("nbf")
        if isinstance(not_before, int | float) and not_before > now + LEEWAY_SECONDS:
            raise AssertionRefused("The client assertion is not valid yet (nbf)")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise AssertionRefused("The client assertion has no jti (a unique id)")
        if len(jti) > MAX_JTI_LENGTH:
            raise AssertionRefused(f"The client assertion's jti is longer than {MAX_JTI_LENGTH}")
        # Kept past the leeway, so a replay inside it still finds the spent id.
        return datetime.fromtimestamp(float(expires) + LEEWAY_SECONDS, UTC)

    def _spend(self, client_id: str, jti: str, expires_at: datetime) -> None:
        try:
            with self.db.transaction() as session:
                client_keys.use_assertion_id(session, client_id, jti, expires_at)
        except (Conflict, IntegrityError):
            raise AssertionRefused(
                "This client assertion was already used: make a new one (new jti) per request"
            ) from None
        self._prune_now_and_then()

    def _prune_now_and_then(self) -> None:
        with self._prune_lock:
            if time.monotonic() - self._pruned_at < PRUNE_EVERY_SECONDS:
                return
            self._pruned_at = time.monotonic()
        with self.db.transaction() as session:
            client_keys.prune_used_assertions(session)
