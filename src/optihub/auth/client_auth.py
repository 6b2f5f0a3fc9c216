"""Client authentication for the token endpoints, done before the request's transaction.

A client secret is verified with argon2 (about 100 ms of CPU). That happens here, with no
database connection held: the client row is read on a read-only session (on SQLite it
neither waits for nor takes the write lock) that is closed again, and only then is the
secret verified. The endpoint opens its short write transaction afterwards, and Authlib
matches the presented secret against this verification (``Verified.matches``) instead of
hashing it again (``auth.server.Client.check_client_secret``).

Failures are throttled per client id and per address (``auth.throttle.ClientAuthThrottle``),
before anything is read or hashed. An unknown client id (or a public app's, which has no
secret) is verified against a dummy hash, so it costs what a known one costs.

An app registered with public keys presents a signed assertion instead of a secret
(``private_key_jwt``, ``auth.assertions``): verified here too, at the same point, and its
failures throttled the same way (per the client id the assertion claims).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from authlib.oauth2.rfc6749.util import extract_basic_authorization

from optihub.auth.assertions import (
    ASSERTION_TYPE,
    AssertionRefused,
    AssertionVerifier,
    VerifiedAssertion,
    claimed_client_id,
)
from optihub.auth.throttle import ClientAuthThrottle
from optihub.db.models import OAuthClient
from optihub.db.session import Database
from optihub.errors import RateLimited
from optihub.security import sha256_hex, verify_secret_aside
from optihub.services import oauth_clients

# Longer than any client id or secret OptiHub issues: refused without a look-up or a hash.
MAX_CLIENT_ID = 255
MAX_CLIENT_SECRET = 1024


@dataclass(frozen=True)
class Presented:
    """A client id and secret a request presents."""

    client_id: str
    client_secret: str


def presented(headers: Mapping[str, str], form: Mapping[str, str]) -> list[Presented]:
    """The client id / secret pairs in a request, where Authlib looks for them: HTTP Basic
    (``client_secret_basic``), then the form (``client_secret_post``); each pair once."""
    found: list[Presented] = []
    basic_id, basic_secret = extract_basic_authorization(headers)
    if basic_id and basic_secret:
        found.append(Presented(basic_id, basic_secret))
    form_id, form_secret = form.get("client_id"), form.get("client_secret")
    if form_id and form_secret and Presented(form_id, form_secret) not in found:
        found.append(Presented(form_id, form_secret))
    return found


@dataclass(frozen=True)
class PresentedAssertion:
    """A client assertion a request presents (RFC 7521 §4.2 parameters)."""

    assertion_type: str
    assertion: str
    client_id: str | None  # the form's client_id, optional with an assertion

    @property
    def claimed_client_id(self) -> str:
        """Whom it claims to authenticate (unverified): for throttling."""
        return (self.client_id or claimed_client_id(self.assertion))[:MAX_CLIENT_ID]


def presented_assertion(form: Mapping[str, str]) -> PresentedAssertion | None:
    """The client assertion in a request's form, if it carries either parameter."""
    if "client_assertion" not in form and "client_assertion_type" not in form:
        return None
    return PresentedAssertion(
        assertion_type=form.get("client_assertion_type", ""),
        assertion=form.get("client_assertion", ""),
        client_id=form.get("client_id"),
    )


@dataclass(frozen=True)
class Verified:
    """A client whose presented secret matched its stored hash."""

    client_id: str
    secret_hash: str
    secret_digest: str  # SHA-256 of the presented secret

    def matches(self, row: OAuthClient, client_secret: str) -> bool:
        """The same client, its hash unchanged since, and the same secret."""
        return (
            row.client_id == self.client_id
            and row.client_secret_hash == self.secret_hash
            and hmac.compare_digest(sha256_hex(client_secret), self.secret_digest)
        )


class ClientAuthenticator:
    """Verifies client secrets outside any write transaction, throttling failures."""

    def __init__(
        self,
        db: Database,
        throttle: ClientAuthThrottle,
        assertions: AssertionVerifier | None = None,
    ) -> None:
        self.db = db
        self.throttle = throttle
        self.assertions = assertions

    def refuse_if_throttled(self, client_id: str, address: str) -> None:
        """Raises ``RateLimited`` (with the seconds to wait) while the client id or the
        address is throttled. Only looks at the counters: the token routes call it on the
        event loop, so a flood of refused attempts takes no worker thread."""
        wait = self.throttle.retry_after(client_id[:MAX_CLIENT_ID], address)
        if wait:
            raise RateLimited(
                f"Too many failed client authentications. Try again in {wait} second(s).", wait
            )

    def verify(self, client_id: str, client_secret: str, address: str) -> Verified | None:
        """The confidential client ``client_id`` when ``client_secret`` is its secret, else
        None (counted as a failure for the client id and for ``address``).

        Reads the client on a read-only session, closed before the secret is hashed; one
        argon2 verification whether the client exists or not, on the low-priority hashing
        threads (``security.verify_secret_aside``). Raises ``RateLimited`` (with
        the seconds to wait) while the client id or the address is throttled, before
        anything is read or hashed.
        """
        identity = client_id[:MAX_CLIENT_ID]
        self.refuse_if_throttled(client_id, address)
        stored: str | None = None
        matched = False
        if len(client_id) <= MAX_CLIENT_ID and len(client_secret) <= MAX_CLIENT_SECRET:
            with self.db.read_sessions() as session:
                row = oauth_clients.get_client(session, client_id)
                if row is not None and not row.is_public:
                    stored = row.client_secret_hash
            matched = verify_secret_aside(stored, client_secret)
        if not matched or stored is None:
            self.throttle.failed(identity, address)
            return None
        self.throttle.succeeded(identity)
        return Verified(client_id, stored, sha256_hex(client_secret))

    def verify_assertion(self, presented: PresentedAssertion, address: str) -> VerifiedAssertion:
        """The app a client assertion authenticates (its jti now spent), or
        ``AssertionRefused`` with the reason (counted as a failure for the client id it
        claims and for ``address``). Raises ``RateLimited`` while either is throttled."""
        identity = presented.claimed_client_id
        self.refuse_if_throttled(identity, address)
        try:
            if presented.assertion_type != ASSERTION_TYPE:
                raise AssertionRefused(f"client_assertion_type must be {ASSERTION_TYPE}")
            if not presented.assertion:
                raise AssertionRefused("client_assertion is missing")
            if self.assertions is None:
                raise AssertionRefused("Signed client assertions are not accepted here")
            verified = self.assertions.verify(presented.assertion, presented.client_id)
        except AssertionRefused:
            self.throttle.failed(identity, address)
            raise
        self.throttle.succeeded(identity)
        return verified
