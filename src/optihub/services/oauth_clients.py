"""Registering OAuth apps and connecting them to practices."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from optihub.db.models import OAuthClient, oauth_client_practices
from optihub.domain import scopes as scope_registry
from optihub.errors import FieldError, ValidationFailed
from optihub.security import hash_secret
from optihub.services.practices import get_practice


@dataclass(frozen=True)
class RegisteredClient:
    client: OAuthClient
    client_secret: str | None  # shown once; only its argon2 hash is stored


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


def register_client(
    session: Session,
    *,
    name: str,
    scope: str,
    redirect_uris: list[str],
    public: bool = False,
    owner_user_id: uuid.UUID | None = None,
    practice_ids: list[int] | None = None,
) -> RegisteredClient:
    """Register an app; a confidential one gets a secret, returned here and never again.

    Raises ``ValidationFailed`` for an empty name, unknown scopes, bad redirect URIs, a
    public client with practice connections (client credentials need a secret), or an
    unknown practice.
    """
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
    if errors:
        raise ValidationFailed(errors)
    for practice_id in practice_ids or []:
        get_practice(session, practice_id)
    secret = None if public else secrets.token_urlsafe(32)
    client = OAuthClient(
        client_id="app_" + secrets.token_hex(10),
        client_secret_hash=hash_secret(secret) if secret else None,
        name=name.strip(),
        redirect_uris=redirect_uris,
        scope=" ".join(dict.fromkeys(scope.split())),
        is_public=public,
        owner_user_id=owner_user_id,
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
