"""Registering OAuth apps and connecting them to practices.

A practice gives an app access two ways: by *connecting* it (``oauth_client_practices``:
the app then acts for the practice on its own, with client credentials and the dialects'
token calls; the CLI's ``client create --practice`` and the dashboard's apps page), or by
one of its users *granting* it at consent (``oauth_consents``: the app acts for that user).
``disconnect_client`` takes both away, with the app's live tokens for the practice.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.orm import Session

from optihub.db.base import utcnow
from optihub.db.models import (
    OAuthClient,
    OAuthConsent,
    OAuthToken,
    User,
    oauth_client_practices,
)
from optihub.domain import scopes as scope_registry
from optihub.errors import FieldError, NotFound, ValidationFailed
from optihub.events.addresses import Resolver, resolve
from optihub.security import hash_secret
from optihub.services import audit, client_keys, oauth_tokens
from optihub.services.context import Actor
from optihub.services.practices import get_practice


@dataclass(frozen=True)
class RegisteredClient:
    client: OAuthClient
    client_secret: str | None  # shown once; only its argon2 hash is stored


def _key_errors(
    jwks: str | dict[str, Any] | None,
    jwks_uri: str | None,
    allowed_hosts: Sequence[str],
    resolver: Resolver,
) -> tuple[list[FieldError], str | None, str | None]:
    """(problems, the key set as stored JSON text, the normalized key set address)."""
    try:
        if jwks is not None:
            return [], json.dumps(client_keys.public_key_set(jwks), separators=(",", ":")), None
        if jwks_uri is not None:
            return [], None, client_keys.jwks_uri_destination(jwks_uri, allowed_hosts, resolver).url
    except ValidationFailed as failure:
        return failure.errors, None, None
    return [], None, None


def _redirect_uri_errors(uris: list[str]) -> list[FieldError]:
    errors = []
    for index, uri in enumerate(uris):
        parts = urlsplit(uri)
        loopback = parts.hostname in {"127.0.0.1", "::1", "localhost"}
        if parts.scheme not in {"https", "http"} or not parts.netloc or parts.fragment:
            errors.append(
                FieldError(f"redirect_uris[{index}]", "Must be an absolute URL without fragment.")
            )
        elif parts.scheme == "http" and not loopback:
            errors.append(
                FieldError(f"redirect_uris[{index}]", "Must use https (http only for loopback).")
            )
    return errors


@dataclass(frozen=True)
class _Checked:
    """A registration's problems, and its keys as they would be stored."""

    errors: list[FieldError]
    jwks: str | None = None
    jwks_uri: str | None = None


def _checked(
    *,
    name: str,
    scope: str,
    redirect_uris: list[str],
    public: bool,
    practice_ids: list[int] | None,
    jwks: str | dict[str, Any] | None,
    jwks_uri: str | None,
    allowed_hosts: Sequence[str],
    resolver: Resolver,
) -> _Checked:
    errors = []
    if not name.strip():
        errors.append(FieldError("name", "An app needs a name."))
    unknown = scope_registry.unknown(scope)
    if unknown:
        errors.append(FieldError("scope", f"Unknown scopes: {', '.join(unknown)}."))
    if not scope.split():
        errors.append(FieldError("scope", "Register at least one scope."))
    errors += _redirect_uri_errors(redirect_uris)
    if public and practice_ids:
        errors.append(FieldError("practice", "A public app cannot act for a practice on its own."))
    if jwks is not None and jwks_uri is not None:
        errors.append(
            FieldError("jwks", "Give the app's key set or the address of its key set, not both.")
        )
        return _Checked(errors)
    if public and (jwks is not None or jwks_uri is not None):
        errors.append(
            FieldError("jwks", "A public app has no keys of its own: it signs users in with PKCE.")
        )
        return _Checked(errors)
    key_errors, stored_jwks, stored_uri = _key_errors(jwks, jwks_uri, allowed_hosts, resolver)
    return _Checked(errors + key_errors, stored_jwks, stored_uri)


def registration_problems(
    *,
    name: str,
    scope: str,
    redirect_uris: list[str],
    public: bool = False,
    jwks: str | dict[str, Any] | None = None,
    jwks_uri: str | None = None,
    allowed_hosts: Sequence[str] = (),
    resolver: Resolver = resolve,
) -> list[FieldError]:
    """What ``register_client`` would refuse in these fields (practices aside), writing
    nothing: for a form that found problems of its own and shows them all at once."""
    return _checked(
        name=name,
        scope=scope,
        redirect_uris=redirect_uris,
        public=public,
        practice_ids=None,
        jwks=jwks,
        jwks_uri=jwks_uri,
        allowed_hosts=allowed_hosts,
        resolver=resolver,
    ).errors


def register_client(
    session: Session,
    *,
    name: str,
    scope: str,
    redirect_uris: list[str],
    public: bool = False,
    owner_user_id: uuid.UUID | None = None,
    practice_ids: list[int] | None = None,
    jwks: str | dict[str, Any] | None = None,
    jwks_uri: str | None = None,
    allowed_hosts: Sequence[str] = (),
    resolver: Resolver = resolve,
) -> RegisteredClient:
    """Register an app. A confidential one gets a secret, returned here and never again;
    one registered with public keys (``jwks``, a JWKS as JSON text or parsed, or
    ``jwks_uri``, where it publishes one) has no secret: it authenticates with assertions
    signed by its keys (``private_key_jwt``).

    Raises ``ValidationFailed`` for an empty name, unknown scopes, bad redirect URIs, a
    public client with practice connections (client credentials need a secret) or with
    keys, both a key set and its address, a key set that is not public RSA / P-384 keys
    (``services.client_keys.public_key_set``), a key set address that is not https to a
    public host nor allow-listed (``allowed_hosts``, as webhook targets), or an unknown
    practice. Nothing is written then.
    """
    checked = _checked(
        name=name,
        scope=scope,
        redirect_uris=redirect_uris,
        public=public,
        practice_ids=practice_ids,
        jwks=jwks,
        jwks_uri=jwks_uri,
        allowed_hosts=allowed_hosts,
        resolver=resolver,
    )
    if checked.errors:
        raise ValidationFailed(checked.errors)
    for practice_id in practice_ids or []:
        get_practice(session, practice_id)
    keyed = jwks is not None or jwks_uri is not None
    secret = None if public or keyed else secrets.token_urlsafe(32)
    method = "none" if public else client_keys.PRIVATE_KEY_JWT if keyed else "client_secret_basic"
    client = OAuthClient(
        client_id="app_" + secrets.token_hex(10),
        client_secret_hash=hash_secret(secret) if secret else None,
        name=name.strip(),
        redirect_uris=redirect_uris,
        scope=" ".join(dict.fromkeys(scope.split())),
        is_public=public,
        owner_user_id=owner_user_id,
        token_endpoint_auth_method=method,
        jwks=checked.jwks,
        jwks_uri=checked.jwks_uri,
    )
    session.add(client)
    session.flush()
    for practice_id in practice_ids or []:
        session.execute(
            insert(oauth_client_practices).values(client_pk=client.id, practice_id=practice_id)
        )
    return RegisteredClient(client, secret)


def connected_practice_ids(session: Session, client: OAuthClient) -> list[int]:
    return list(
        session.scalars(
            select(oauth_client_practices.c.practice_id)
            .where(oauth_client_practices.c.client_pk == client.id)
            .order_by(oauth_client_practices.c.practice_id)
        )
    )


def get_client(session: Session, client_id: str) -> OAuthClient | None:
    """The active (not revoked) app with this client id."""
    return session.scalar(
        select(OAuthClient).where(
            OAuthClient.client_id == client_id, OAuthClient.revoked_at.is_(None)
        )
    )


def clients_owned_by(session: Session, user_id: uuid.UUID) -> list[OAuthClient]:
    return list(
        session.scalars(
            select(OAuthClient)
            .where(OAuthClient.owner_user_id == user_id, OAuthClient.revoked_at.is_(None))
            .order_by(OAuthClient.created_at)
        )
    )


# -- a practice's apps -----------------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    """A user's consent that lets an app act for them in the practice."""

    user_email: str
    scope: str
    granted_at: datetime


@dataclass(frozen=True)
class PracticeApp:
    """An app with access to a practice: connected by the practice (client credentials: it
    acts on its own) and/or granted by some of its users at consent."""

    client: OAuthClient
    connected: bool
    grants: tuple[Grant, ...]

    @property
    def scope(self) -> str:
        """Every scope it may hold for the practice: its registered scopes when connected
        (a client-credentials token carries those), else what its users granted."""
        names = self.client.scope.split() if self.connected else []
        for grant in self.grants:
            names += grant.scope.split()
        return " ".join(dict.fromkeys(names))


def practice_apps(session: Session, practice_id: int) -> list[PracticeApp]:
    """The apps with access to the practice, by name: those it connected and those its
    users granted (consents not withdrawn), of active (not revoked) apps only."""
    connected = set(
        session.scalars(
            select(OAuthClient.id)
            .join(oauth_client_practices, oauth_client_practices.c.client_pk == OAuthClient.id)
            .where(oauth_client_practices.c.practice_id == practice_id)
        )
    )
    grants: dict[str, list[Grant]] = {}
    for consent, email in session.execute(
        select(OAuthConsent, User.email)
        .join(User, User.id == OAuthConsent.user_id)
        .where(OAuthConsent.practice_id == practice_id, OAuthConsent.revoked_at.is_(None))
        .order_by(OAuthConsent.granted_at)
    ):
        grants.setdefault(consent.client_id, []).append(
            Grant(email, consent.scope, consent.granted_at)
        )
    clients = session.scalars(
        select(OAuthClient)
        .where(
            OAuthClient.revoked_at.is_(None),
            or_(OAuthClient.id.in_(connected), OAuthClient.client_id.in_(list(grants))),
        )
        .order_by(OAuthClient.name, OAuthClient.client_id)
    )
    return [PracticeApp(c, c.id in connected, tuple(grants.get(c.client_id, ()))) for c in clients]


def connect_client(session: Session, actor: Actor, client_id: str) -> tuple[OAuthClient, bool]:
    """Connect an app to the actor's practice by its client id: it may then get
    client-credentials tokens (and the dialects' own token calls) for the practice.
    Returns the app and whether it was newly connected (False: it already was).

    Raises ``ValidationFailed`` (field ``client_id``) for an unknown or revoked app and for
    a public app (it has no secret, so it cannot act on its own)."""
    client = get_client(session, client_id.strip())
    if client is None:
        raise ValidationFailed(
            [FieldError("client_id", "No app has that client id. Check it with the app's maker.")]
        )
    if client.is_public:
        raise ValidationFailed(
            [
                FieldError(
                    "client_id",
                    "This is a public app (it has no secret), so it cannot act for the "
                    "practice on its own. Its users grant it access when they sign in to it.",
                )
            ]
        )
    already = session.scalar(
        select(oauth_client_practices.c.client_pk).where(
            oauth_client_practices.c.client_pk == client.id,
            oauth_client_practices.c.practice_id == actor.practice_id,
        )
    )
    if already is not None:
        return client, False
    session.execute(
        insert(oauth_client_practices).values(client_pk=client.id, practice_id=actor.practice_id)
    )
    session.flush()
    audit.record(session, actor, "app.connected", "oauth_client", client.client_id)
    return client, True


def disconnect_client(session: Session, actor: Actor, client_id: str) -> OAuthClient:
    """Take away an app's access to the actor's practice: its connection (client
    credentials), every consent the practice's users gave it for the practice, and every
    live token of the app that carries the practice (refresh tokens die now, access tokens
    are listed as revoked until they expire).

    Raises ``NotFound`` when the app has no access to the practice (another practice's
    connection is not this one's)."""
    practice_id = actor.practice_id
    client = session.scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))
    if client is None:
        raise NotFound("App", client_id)
    removed = session.execute(
        delete(oauth_client_practices).where(
            oauth_client_practices.c.client_pk == client.id,
            oauth_client_practices.c.practice_id == practice_id,
        )
    )
    withdrawn = session.execute(
        update(OAuthConsent)
        .where(
            OAuthConsent.client_id == client_id,
            OAuthConsent.practice_id == practice_id,
            OAuthConsent.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    )
    if not _rowcount(removed) and not _rowcount(withdrawn):
        raise NotFound("App", client_id)
    now = utcnow()
    live = session.scalars(
        select(OAuthToken).where(
            OAuthToken.client_id == client_id,
            OAuthToken.revoked_at.is_(None),
            or_(OAuthToken.access_expires_at > now, OAuthToken.refresh_expires_at > now),
        )
    )
    families = {row.family_id for row in live if practice_id in (row.practice_ids or [])}
    for family_id in families:
        oauth_tokens.revoke_family(session, family_id)
    session.flush()
    audit.record(session, actor, "app.disconnected", "oauth_client", client_id)
    return client


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
