"""Response bodies of the OAuth / OIDC endpoints, for the OpenAPI document only.

The routes build their JSON themselves (Authlib hands back finished bodies); these models
describe what they send so clients, the API reference and schema fuzzers know every
status an endpoint can answer and its shape.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class OAuthError(BaseModel):
    """RFC 6749 §5.2 / RFC 6750 §3 error body."""

    model_config = ConfigDict(title="OAuthError")

    error: str = Field(
        description=(
            "Error code: invalid_request, invalid_client, invalid_grant, unauthorized_client, "
            "unsupported_grant_type, invalid_scope, unsupported_token_type, invalid_token, "
            "insufficient_scope"
        ),
        examples=["invalid_grant"],
    )
    error_description: str | None = Field(None, description="Human-readable detail (ASCII)")
    error_uri: str | None = Field(None, description="A page about the error, when there is one")


class TokenResponse(BaseModel):
    """RFC 6749 §5.1 successful token response."""

    token_type: Literal["Bearer"]
    access_token: str = Field(description="RFC 9068 JWT access token")
    expires_in: int = Field(description="Seconds until the access token expires")
    scope: str = Field(description="Space-separated granted scopes")
    refresh_token: str | None = Field(
        None,
        description="Rotating refresh token (authorization_code and refresh_token grants)",
    )
    id_token: str | None = Field(
        None, description="OpenID Connect ID token, when openid was granted"
    )


class RevocationResponse(BaseModel):
    """RFC 7009 §2.2: an empty object, whether or not the token was known."""

    model_config = ConfigDict(title="RevocationResponse")


class IntrospectionResponse(BaseModel):
    """RFC 7662 §2.2: ``{"active": false}`` for unknown, expired, revoked or foreign tokens."""

    active: bool
    client_id: str | None = None
    scope: str | None = None
    token_type: str | None = Field(None, description="Bearer or refresh_token")
    exp: int | None = None
    iat: int | None = None
    sub: str | None = None
    iss: str | None = None
    aud: str | None = None
    jti: str | None = None
    practice_ids: list[int] | None = Field(None, description="Practices the token acts for")


class UserInfo(BaseModel):
    """OpenID Connect Core §5.3.2: the claims the token's scopes release."""

    sub: str
    email: str | None = Field(None, description="With the email scope")
    email_verified: bool | None = Field(None, description="With the email scope")
    name: str | None = Field(None, description="With the profile scope")
    given_name: str | None = Field(None, description="With the profile scope")
    family_name: str | None = Field(None, description="With the profile scope")


def error_response(description: str) -> dict[str, Any]:
    return {"model": OAuthError, "description": description}
