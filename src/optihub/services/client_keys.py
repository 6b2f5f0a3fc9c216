"""The public keys of apps that authenticate with signed assertions (``private_key_jwt``,
RFC 7523; SMART Backend Services), and the assertion ids already used.

* ``public_key_set``: a JWKS an app registers (or publishes at its ``jwks_uri``), checked
  member by member: RSA keys of 2048 bits or more and EC keys on P-384 (the curves and
  sizes ``SIGNING_ALGORITHMS`` can use), public members only. A private key (``d``, or
  RSA's CRT members) or a shared symmetric key (``oct``) is refused, never stored.
* ``jwks_uri_destination``: where a key set may be fetched from; the same rule as webhook
  targets (``events.addresses``): https to a public address, or a host the operator
  allow-lists with ``OPTIHUB_WEBHOOK_ALLOWED_HOSTS`` (plain http only for those).
* ``use_assertion_id``: an assertion's ``jti`` is accepted once; it is kept until the
  assertion expires (``prune_used_assertions`` removes the expired ones).

The checks here are structural (no cryptography library in services): the auth package
imports each key with joserfc when it verifies an assertion.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from optihub.db.base import utcnow
from optihub.db.models.oauth import UsedClientAssertion
from optihub.errors import Conflict, FieldError, ValidationFailed
from optihub.events.addresses import AddressRefused, Destination, Resolver, destination, resolve

# What a client assertion may be signed with (SMART Backend Services: RS384 and ES384).
SIGNING_ALGORITHMS = ("RS384", "ES384")
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
PRIVATE_KEY_JWT = "private_key_jwt"
MAX_KEY_SET_BYTES = 64 * 1024
MAX_KEYS = 20
MIN_RSA_BITS = 2048
EC_CURVE = "P-384"
EC_COORDINATE_BYTES = 48
# Members that only a private key (or a symmetric one) holds.
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")


def _b64url(value: Any) -> bytes | None:
    if not isinstance(value, str) or not value or "=" in value:
        return None
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return None


def _key_problem(key: Any, number: int) -> str | None:
    """What is wrong with the ``number``-th key of a set (1-based), in plain words."""
    which = f"Key {number}"
    if not isinstance(key, dict):
        return f"{which} is not a JSON object."
    if isinstance(key.get("kid"), str) and key["kid"]:
        which = f"Key {number} ({key['kid']})"
    elif "kid" in key:
        return f"{which}: its kid must be a non-empty text."
    kty = key.get("kty")
    if kty == "oct":
        return (
            f"{which} is a shared secret key (kty oct): register only public keys (RSA or EC); "
            "a shared key would let anyone who reads it sign as the app."
        )
    private = [member for member in PRIVATE_MEMBERS if member in key]
    if private:
        return (
            f"{which} contains private key material ({', '.join(private)}): register only the "
            "public half of the key, and keep the private key with the app."
        )
    if "use" in key and key["use"] != "sig":
        return f"{which} is marked for {key['use']!r}, not for signatures (use: sig)."
    if "alg" in key and key["alg"] not in SIGNING_ALGORITHMS:
        return (
            f"{which} is for {key['alg']!r}; assertions must be signed with "
            f"{' or '.join(SIGNING_ALGORITHMS)}."
        )
    if kty == "RSA":
        modulus, exponent = _b64url(key.get("n")), _b64url(key.get("e"))
        if modulus is None or exponent is None:
            return f"{which} is an RSA key without a valid modulus (n) and exponent (e)."
        if int.from_bytes(modulus, "big").bit_length() < MIN_RSA_BITS:
            return f"{which} is an RSA key shorter than {MIN_RSA_BITS} bits."
        return None
    if kty == "EC":
        if key.get("crv") != EC_CURVE:
            return f"{which} is an EC key on {key.get('crv')!r}: ES384 needs the {EC_CURVE} curve."
        x, y = _b64url(key.get("x")), _b64url(key.get("y"))
        if x is None or y is None or len(x) != EC_COORDINATE_BYTES or len(y) != EC_COORDINATE_BYTES:
            return f"{which} is a {EC_CURVE} key without valid coordinates (x and y)."
        return None
    return f"{which} has key type {kty!r}: only RSA and EC public keys can be registered."


def public_key_set(document: str | dict[str, Any], field: str = "jwks") -> dict[str, Any]:
    """The key set ``document`` (JSON text or parsed), checked: ``{"keys": [...]}`` with
    1 to ``MAX_KEYS`` public RSA (≥ 2048 bits) or P-384 EC keys, distinct kids.

    Raises ``ValidationFailed`` (``field``) naming each key's problem in plain words.
    """
    if isinstance(document, str):
        if len(document.encode()) > MAX_KEY_SET_BYTES:
            raise ValidationFailed(
                [FieldError(field, f"The key set is larger than {MAX_KEY_SET_BYTES // 1024} KiB.")]
            )
        try:
            document = json.loads(document)
        except ValueError:
            raise ValidationFailed(
                [FieldError(field, 'The key set is not valid JSON: it must read {"keys": [...]}.')]
            ) from None
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list) or not keys:
        raise ValidationFailed(
            [FieldError(field, 'The key set must be a JSON object {"keys": [...]} with a key.')]
        )
    if len(keys) > MAX_KEYS:
        raise ValidationFailed([FieldError(field, f"The key set holds more than {MAX_KEYS} keys.")])
    problems = [p for n, key in enumerate(keys, 1) if (p := _key_problem(key, n)) is not None]
    kids = [key["kid"] for key in keys if isinstance(key, dict) and isinstance(key.get("kid"), str)]
    if len(kids) != len(set(kids)):
        problems.append("Two keys share a kid: give each key its own.")
    if problems:
        raise ValidationFailed([FieldError(field, problem) for problem in problems])
    return {"keys": keys}


def jwks_uri_destination(
    url: str, allowed_hosts: Sequence[str], resolver: Resolver = resolve, field: str = "jwks_uri"
) -> Destination:
    """Where the key set at ``url`` may be fetched from (its host resolved once, every
    address checked), or ``ValidationFailed`` (``field``) saying why not."""
    try:
        return destination(url.strip(), allowed_hosts, resolver)
    except AddressRefused as refused:
        raise ValidationFailed([FieldError(field, f"{url.strip()}: {refused}")]) from None


def use_assertion_id(session: Session, client_id: str, jti: str, expires_at: datetime) -> None:
    """Record that ``client_id`` used the assertion ``jti`` (kept until ``expires_at``).

    Raises ``Conflict`` when it was used before. Two requests racing with the same id both
    insert; the database's primary key lets one commit and fails the other's flush (an
    ``IntegrityError`` the caller treats as the same refusal).
    """
    if session.get(UsedClientAssertion, (client_id, jti)) is not None:
        raise Conflict("This client assertion was already used (its jti is spent).")
    session.add(UsedClientAssertion(client_id=client_id, jti=jti, expires_at=expires_at))
    session.flush()


def prune_used_assertions(session: Session, now: datetime | None = None) -> int:
    """Forget the assertion ids whose assertions have expired (a replay of one is refused
    for its expiry anyway); returns how many."""
    result = session.execute(
        delete(UsedClientAssertion).where(UsedClientAssertion.expires_at < (now or utcnow()))
    )
    return int(getattr(result, "rowcount", 0) or 0)
