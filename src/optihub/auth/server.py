"""The OAuth 2.1 / OpenID Connect authorization server: Authlib's protocol code with a thin
Starlette adapter and OptiHub's grant subclasses.

* Authorization code with PKCE S256 required from *every* client (``plain`` refused), codes
  single-use and valid 60 s; replaying a code revokes the tokens it issued.
* Refresh tokens rotate; presenting a rotated one again revokes its whole family.
* Client credentials for confidential apps, acting for the practices that connected them.
* Access tokens are RFC 9068 JWTs from ``TokenService``; ``openid`` adds an id_token.
* Client secrets are verified (argon2) before the request's transaction begins
  (``auth.client_auth``); here a presented secret is only matched against that verification.
  So are client assertions (``private_key_jwt``, ``auth.assertions``): an app registered
  with public keys authenticates with those only, and has no secret.

Authlib is synchronous: the routes run it in FastAPI's threadpool with the request's
session, which Authlib's callbacks reach through ``OAuthRequest.session``.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from collections import defaultdict
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from authlib.common.urls import add_params_to_uri
from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import (
    ClientAuthentication,
    ClientMixin,
    OAuth2Payload,
    OAuth2Request,
    TokenMixin,
)
from authlib.oauth2.rfc6749.errors import (
    InvalidRequestError,
    InvalidScopeError,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc6749.grants import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    RefreshTokenGrant,
)
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from sqlalchemy import select
from sqlalchemy.orm import Session

from optihub.auth.assertions import VerifiedAssertion
from optihub.auth.client_auth import Verified
from optihub.auth.tokens import InvalidToken, TokenService
from optihub.db.base import utcnow
from optihub.db.models import OAuthAuthorizationCode, OAuthClient, OAuthToken, User
from optihub.domain import scopes as scope_registry
from optihub.security import sha256_hex
from optihub.services import oauth_clients, oauth_tokens
from optihub.services.client_keys import PRIVATE_KEY_JWT

CODE_TTL = timedelta(seconds=60)
# How a confidential app may authenticate at the token, revocation and introspection
# endpoints: with its secret, or with an assertion signed by its key.
CONFIDENTIAL_METHODS = ["client_secret_basic", "client_secret_post", PRIVATE_KEY_JWT]
LOOPBACK_HOSTS = {"127.0.0.1", "[::1]", "::1"}


class Payload(OAuth2Payload):
    """Query and form parameters (form wins), keeping repeated values for duplicate checks."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in pairs:
            self._datalist[key].append(value)
        self._data = {key: values[-1] for key, values in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class OAuthRequest(OAuth2Request):
    """An Authlib request built from what Starlette already parsed, plus our session."""

    def __init__(
        self,
        *,
        method: str,
        uri: str,
        headers: Any,
        query: list[tuple[str, str]],
        form: list[tuple[str, str]],
        session: Session,
    ) -> None:
        super().__init__(method=method, uri=uri, headers=headers)
        self.session = session
        self._query = dict(query)
        self._form = dict(form)
        self.payload = Payload(query + form)
        self.granted_practice_ids: list[int] = []
        self.token_family_id: uuid.UUID | None = None
        self.issued_jti: str | None = None
        self.issued_access_expires_at: Any = None
        # A lifetime other than the server's default (a dialect's token call).
        self.access_ttl: int | None = None
        # Clients whose secret the route verified before the transaction, by client id.
        self.verified_clients: dict[str, Verified] = {}
        # The client assertion the route verified before the transaction, if any.
        self.verified_assertion: VerifiedAssertion | None = None

    @property
    def args(self) -> dict[str, str]:
        return self._query

    @property
    def form(self) -> dict[str, str]:
        return self._form


class Client(ClientMixin):
    """Authlib's view of an ``OAuthClient`` row (``verified``: its secret's verification,
    made by the route before the transaction began)."""

    def __init__(self, row: OAuthClient, verified: Verified | None = None) -> None:
        self.row = row
        self.client_id = row.client_id
        self.verified = verified

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self) -> str | None:
        uris = list(self.row.redirect_uris)
        return uris[0] if len(uris) == 1 else None

    def get_allowed_scope(self, scope: str) -> str:
        allowed = set(self.row.scope.split())
        return " ".join(s for s in (scope or "").split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        """Exact match; for loopback http URIs any port matches (RFC 8252 §7.3)."""
        if redirect_uri in self.row.redirect_uris:
            return True
        asked = urlsplit(redirect_uri)
        if asked.scheme != "http" or asked.hostname is None:
            return False
        asked_host = f"[{asked.hostname}]" if ":" in asked.hostname else asked.hostname
        if asked_host not in LOOPBACK_HOSTS:
            return False
        for registered in self.row.redirect_uris:
            parts = urlsplit(registered)
            if (
                parts.scheme == "http"
                and parts.hostname == asked.hostname
                and parts.path == asked.path
                and parts.query == asked.query
            ):
                return True
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        # Never hashed here: this runs inside the request's write transaction. A secret the
        # route did not verify first does not authenticate.
        return (
            not self.row.is_public
            and self.row.token_endpoint_auth_method != PRIVATE_KEY_JWT
            and self.verified is not None
            and self.verified.matches(self.row, client_secret)
        )

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        # One way per app: none (public), a secret (Basic or form), or its keys.
        if self.row.is_public:
            return method == "none"
        if self.row.token_endpoint_auth_method == PRIVATE_KEY_JWT:
            return method == PRIVATE_KEY_JWT
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        if grant_type == "client_credentials":
            return not self.row.is_public
        return grant_type in ("authorization_code", "refresh_token")


class StoredToken(TokenMixin):
    """An issued access or refresh token, for revocation and introspection."""

    def __init__(self, row: OAuthToken, kind: str, revoked_jti: bool = False) -> None:
        self.row = row
        self.kind = kind
        self.revoked_jti = revoked_jti

    def check_client(self, client: Client) -> bool:
        return self.row.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.row.scope

    def get_expires_in(self) -> int:
        expires = self.expires_at
        return max(0, int((expires - utcnow()).total_seconds()))

    @property
    def expires_at(self) -> Any:
        if self.kind == "refresh_token":
            return self.row.refresh_expires_at
        return self.row.access_expires_at

    def is_expired(self) -> bool:
        return self.expires_at is None or self.expires_at <= utcnow()

    def is_revoked(self) -> bool:
        if self.row.revoked_at is not None or self.revoked_jti:
            return True
        return self.kind == "refresh_token" and self.row.rotated_at is not None


class ScopedGrantMixin:
    """A client may only ask for registered, known scopes."""

    request: OAuthRequest

    def validate_requested_scope(self) -> None:
        scope = self.request.payload.scope or ""
        if scope_registry.unknown(scope):
            raise InvalidScopeError(f"Unknown scope: {' '.join(scope_registry.unknown(scope))}")
        client: Client | None = self.request.client
        if client is not None and set(scope.split()) - set(client.row.scope.split()):
            raise InvalidScopeError("The app is not registered for all requested scopes")


class OptiHubTokensMixin:
    """Issue OptiHub JWT access tokens (with granted practices) and refresh tokens."""

    request: OAuthRequest
    server: OptiHubAuthorizationServer
    GRANT_TYPE: str | None

    def generate_token(
        self,
        user: User | None = None,
        scope: str | None = None,
        grant_type: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        client: Client = self.request.client
        access = self.server.tokens.issue_access_token(
            client_id=client.get_client_id(),
            subject=str(user.id) if user is not None else client.get_client_id(),
            scope=scope or "",
            practice_ids=self.request.granted_practice_ids,
            ttl=self.request.access_ttl,
        )
        self.request.issued_jti = access.jti
        self.request.issued_access_expires_at = access.expires_at
        token: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": access.token,
            "expires_in": access.expires_in,
            "scope": scope or "",
        }
        if include_refresh_token:
            token["refresh_token"] = secrets.token_urlsafe(48)
        return token


class PKCEOnlyS256(CodeChallenge):
    """OAuth 2.1 PKCE: every client, every time, S256 only."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]  # noqa: RUF012  (Authlib's attribute)

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send code_challenge (S256)")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        challenge = self.get_authorization_code_challenge(grant.request.authorization_code)
        if challenge and not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier'")
        super().validate_code_verifier(grant, result)


class CodeGrant(ScopedGrantMixin, OptiHubTokensMixin, AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = [*CONFIDENTIAL_METHODS, "none"]  # noqa: RUF012  (Authlib's)

    def validate_authorization_request(self) -> str:
        redirect_uri = super().validate_authorization_request()
        self.validate_requested_scope()
        return str(redirect_uri)

    def save_authorization_code(self, code: str, request: OAuthRequest) -> None:
        data = request.payload.data
        request.session.add(
            OAuthAuthorizationCode(
                code_hash=sha256_hex(code),
                client_id=request.client.get_client_id(),
                user_id=request.user.id,
                practice_ids=request.granted_practice_ids,
                redirect_uri=request.payload.redirect_uri or "",
                scope=request.payload.scope or "",
                nonce=data.get("nonce"),
                code_challenge=data["code_challenge"],
                code_challenge_method=data["code_challenge_method"],
                expires_at=utcnow() + CODE_TTL,
            )
        )
        request.session.flush()

    def query_authorization_code(self, code: str, client: Client) -> Any:
        session = self.request.session
        row = session.scalar(
            select(OAuthAuthorizationCode).where(
                OAuthAuthorizationCode.code_hash == sha256_hex(code),
                OAuthAuthorizationCode.client_id == client.get_client_id(),
            )
        )
        if row is None:
            return None
        if row.used_at is not None:
            # A replayed code: whatever it issued may be in the wrong hands.
            if row.family_id is not None:
                oauth_tokens.revoke_family(session, row.family_id)
            return None
        if row.expires_at <= utcnow():
            return None
        return _CodeView(row)

    def delete_authorization_code(self, authorization_code: Any) -> None:
        row = authorization_code.row
        row.used_at = utcnow()
        row.family_id = self.request.token_family_id
        self.request.session.flush()

    def authenticate_user(self, authorization_code: Any) -> User | None:
        self.request.granted_practice_ids = list(authorization_code.row.practice_ids)
        self.request.token_family_id = uuid.uuid4()
        return self.request.session.get(User, authorization_code.row.user_id)

    def create_token_response(self) -> Any:
        status, token, headers = super().create_token_response()
        code_row = self.request.authorization_code.row
        if "openid" in (code_row.scope or "").split():
            token["id_token"] = self.server.id_token(
                user=self.request.user,
                client_id=self.request.client.get_client_id(),
                scope=code_row.scope,
                nonce=code_row.nonce,
                access_token=token["access_token"],
                auth_time=code_row.auth_time,
            )
        return status, token, headers


class _CodeView:
    """What Authlib asks of a stored code."""

    def __init__(self, row: OAuthAuthorizationCode) -> None:
        self.row = row
        self.code_challenge = row.code_challenge
        self.code_challenge_method = row.code_challenge_method

    def get_redirect_uri(self) -> str:
        return self.row.redirect_uri

    def get_scope(self) -> str:
        return self.row.scope


class RotatingRefreshGrant(ScopedGrantMixin, OptiHubTokensMixin, RefreshTokenGrant):
    INCLUDE_NEW_REFRESH_TOKEN = True
    TOKEN_ENDPOINT_AUTH_METHODS = [*CONFIDENTIAL_METHODS, "none"]  # noqa: RUF012  (Authlib's)

    def authenticate_refresh_token(self, refresh_token: str) -> StoredToken | None:
        session = self.request.session
        row = oauth_tokens.find_by_refresh_token(session, refresh_token)
        if row is None or row.revoked_at is not None:
            return None
        if row.rotated_at is not None:
            # Reuse of a rotated refresh token: the family is compromised.
            oauth_tokens.revoke_family(session, row.family_id)
            return None
        if row.refresh_expires_at is None or row.refresh_expires_at <= utcnow():
            return None
        self.request.granted_practice_ids = list(row.practice_ids)
        self.request.token_family_id = row.family_id
        return StoredToken(row, "refresh_token")

    def authenticate_user(self, refresh_token: StoredToken) -> User | None:
        user_id = refresh_token.row.user_id
        return self.request.session.get(User, user_id) if user_id else None

    def revoke_old_credential(self, refresh_token: StoredToken) -> None:
        refresh_token.row.rotated_at = utcnow()
        self.request.session.flush()


class PracticeClientCredentialsGrant(ScopedGrantMixin, OptiHubTokensMixin, ClientCredentialsGrant):
    """Server-to-server: a confidential app acts for the practices that connected it.

    ``practice_id`` (OptiHub parameter) narrows the token to one of them. An app
    registered with public keys authenticates with a signed assertion (SMART Backend
    Services), a secret app with its secret.
    """

    TOKEN_ENDPOINT_AUTH_METHODS = list(CONFIDENTIAL_METHODS)  # noqa: RUF012  (Authlib's)

    def validate_token_request(self) -> None:
        super().validate_token_request()
        session = self.request.session
        client: Client = self.request.client
        connected = oauth_clients.connected_practice_ids(session, client.row)
        if not connected:
            raise UnauthorizedClientError("No practice has connected this app")
        wanted = self.request.form.get("practice_id")
        if wanted is not None:
            if not wanted.isdigit() or int(wanted) not in connected:
                raise InvalidRequestError("This app is not connected to that practice")
            connected = [int(wanted)]
        self.request.granted_practice_ids = connected
        self.request.token_family_id = uuid.uuid4()


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = [*CONFIDENTIAL_METHODS, "none"]  # noqa: RUF012  (Authlib's attribute)

    def query_token(self, token_string: str, token_type_hint: str | None) -> StoredToken | None:
        return self.server.find_token(self.request_session, token_string, token_type_hint)

    def authenticate_token(self, request: OAuthRequest, client: Client) -> StoredToken | None:
        self.request_session = request.session
        return super().authenticate_token(request, client)  # type: ignore[no-any-return]

    def revoke_token(self, token: StoredToken, request: OAuthRequest) -> None:
        if token.kind == "refresh_token":
            oauth_tokens.revoke_family(request.session, token.row.family_id)
        else:
            oauth_tokens.revoke_access(request.session, token.row)


class Introspection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = list(CONFIDENTIAL_METHODS)  # noqa: RUF012  (Authlib's)

    def authenticate_token(self, request: OAuthRequest, client: Client) -> StoredToken | None:
        self.request_session = request.session
        return super().authenticate_token(request, client)  # type: ignore[no-any-return]

    def query_token(self, token_string: str, token_type_hint: str | None) -> StoredToken | None:
        return self.server.find_token(self.request_session, token_string, token_type_hint)

    def check_permission(self, token: StoredToken, client: Client, request: OAuthRequest) -> bool:
        # An app may introspect the tokens issued to it.
        return token.check_client(client)

    def introspect_token(self, token: StoredToken) -> dict[str, Any]:
        row = token.row
        payload: dict[str, Any] = {
            "active": True,
            "client_id": row.client_id,
            "scope": row.scope,
            "token_type": "Bearer" if token.kind == "access_token" else "refresh_token",
            "exp": int(token.expires_at.timestamp()),
            "iat": int(row.issued_at.timestamp()),
            "sub": str(row.user_id) if row.user_id else row.client_id,
            "iss": self.server.tokens.issuer,
            "practice_ids": list(row.practice_ids),
        }
        if token.kind == "access_token":
            payload["aud"] = self.server.tokens.audience
            payload["jti"] = row.access_jti
        return payload


class OptiHubAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, tokens: TokenService) -> None:
        super().__init__(scopes_supported=[s.name for s in scope_registry.SCOPES])
        self.tokens = tokens
        self.register_grant(CodeGrant, [PKCEOnlyS256(required=True)])
        self.register_grant(RotatingRefreshGrant)
        self.register_grant(PracticeClientCredentialsGrant)
        self.register_endpoint(Revocation)
        self.register_endpoint(Introspection)

    # -- Authlib's framework hooks -------------------------------------------------------
    def query_client(self, client_id: str) -> Client | None:
        from optihub.auth.oauth_session import current_session

        row = oauth_clients.get_client(current_session(), client_id)
        return Client(row) if row else None

    def authenticate_client(
        self, request: OAuthRequest, methods: list[str], endpoint: str = "token"
    ) -> Client:
        """Authlib's client authentication, with the clients the route verified (their
        secrets, or a client assertion)."""

        def query(client_id: str) -> Client | None:
            client = self.query_client(client_id)
            if client is not None:
                client.verified = request.verified_clients.get(client_id)
            return client

        authentication = ClientAuthentication(query)
        authentication.register(PRIVATE_KEY_JWT, _by_verified_assertion)
        return authentication(request, methods, endpoint)  # type: ignore[no-any-return]

    def save_token(self, token: dict[str, Any], request: OAuthRequest) -> None:
        user = request.user
        oauth_tokens.record_issued(
            request.session,
            family_id=request.token_family_id or uuid.uuid4(),
            client_id=request.client.get_client_id(),
            user_id=user.id if user is not None else None,
            practice_ids=request.granted_practice_ids,
            scope=token.get("scope", ""),
            access_jti=request.issued_jti or "",
            access_expires_at=request.issued_access_expires_at,
            refresh_token=token.get("refresh_token"),
        )

    def create_oauth2_request(self, request: OAuthRequest) -> OAuthRequest:
        return request

    def create_json_request(self, request: OAuthRequest) -> OAuthRequest:
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> tuple[int, Any, list]:
        headers = list(headers or [])
        # RFC 9207: every authorization response names its issuer.
        headers = [
            (k, add_params_to_uri(v, [("iss", self.tokens.issuer)]) if k == "Location" else v)
            for k, v in headers
        ]
        return status, body, headers

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    # -- OptiHub helpers ------------------------------------------------------------------
    def find_token(self, session: Session, token: str, hint: str | None) -> StoredToken | None:
        """The stored pair an access (JWT) or refresh token belongs to."""
        if hint != "refresh_token" and token.count(".") == 2:
            try:
                claims = self.tokens.verify(token, check_revoked=False)
            except InvalidToken:
                claims = None
            if claims is not None:
                row = oauth_tokens.find_by_access_jti(session, claims.jti)
                if row is not None:
                    return StoredToken(
                        row,
                        "access_token",
                        self.tokens.revocations.is_revoked(row.access_jti)
                        or _jti_revoked(session, row.access_jti),
                    )
        row = oauth_tokens.find_by_refresh_token(session, token)
        return StoredToken(row, "refresh_token") if row is not None else None

    def id_token(
        self,
        *,
        user: User,
        client_id: str,
        scope: str,
        nonce: str | None,
        access_token: str,
        auth_time: Any,
    ) -> str:
        digest = hashlib.sha256(access_token.encode()).digest()
        claims: dict[str, Any] = {
            "sub": str(user.id),
            "aud": client_id,
            "auth_time": int(auth_time.timestamp()),
            "at_hash": base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode(),
        }
        if nonce:
            claims["nonce"] = nonce
        claims.update(user_claims(user, scope))
        return self.tokens.sign_id_token(claims)


def _by_verified_assertion(query_client: Any, request: OAuthRequest) -> Client | None:
    """``private_key_jwt``: the app whose assertion the route verified, when this request
    carries that very assertion (None: not this method)."""
    verified = request.verified_assertion
    assertion = request.form.get("client_assertion")
    if verified is None or not assertion:
        return None
    client: Client | None = query_client(verified.client_id)
    if client is None or not verified.matches(client.row, assertion):
        return None
    return client


def _jti_revoked(session: Session, jti: str) -> bool:
    from optihub.db.models import RevokedAccessToken

    return session.get(RevokedAccessToken, jti) is not None


def user_claims(user: User, scope: str) -> dict[str, Any]:
    """The OIDC claims the granted scopes release."""
    granted = set(scope.split())
    claims: dict[str, Any] = {}
    if "email" in granted:
        claims["email"] = user.email
        claims["email_verified"] = False
    if "profile" in granted:
        claims["name"] = f"{user.first_name} {user.last_name}".strip()
        claims["given_name"] = user.first_name
        claims["family_name"] = user.last_name
    return claims
