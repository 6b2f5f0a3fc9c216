"""The fulfillment API's sign-in front: OptiHub users and the OAuth token storage, the
sign-in page's throttle, rotation and reuse detection as the authorization server does,
and a per-practice switch."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from optihub.auth.resource import bearer_principal
from optihub.auth.tokens import InvalidToken
from optihub.db.models import Membership, OAuthToken, Practice, User
from optihub.errors import AuthError, BadRequest, Forbidden, RateLimited
from optihub.security import sha256_hex
from optihub.services import fulfillment_auth as auth
from optihub.services import users
from tests import factories

PASSWORD = "correct horse battery"


@pytest.fixture
def account(db):
    with db.transaction() as s:
        practice = factories.practice(s)
        user = users.create_user(
            s,
            email="Dana@Example.com",
            password=PASSWORD,
            practice_id=practice.id,
            role="staff",
            first_name="Dana",
            last_name="Reyes",
        )
    return {"practice": practice.id, "user": user.id, "email": "dana@example.com"}


@pytest.fixture
def tokens(client):
    """The app's token service (the started app has its signing key)."""
    return client.app.state.tokens


@pytest.fixture
def throttle(app):
    return app.state.login_throttle


def login(db, tokens, throttle, email, password, practice_id=None, address="203.0.113.9"):
    # The service runs its own transactions: the password is verified before the write.
    return auth.login(
        db,
        tokens,
        email,
        password,
        throttle=throttle,
        address=address,
        practice_id=practice_id,
    )


def test_good_login_gives_ordinary_fulfillment_tokens(db, tokens, throttle, account):
    before = datetime.now(UTC)
    issued = login(db, tokens, throttle, "  DANA@example.com", PASSWORD)
    assert issued.user.id == account["user"]
    assert issued.user.email == "dana@example.com"
    assert (issued.user.first_name, issued.user.last_name) == ("Dana", "Reyes")
    assert issued.user.role == "staff"
    assert issued.user.is_active is True
    assert issued.user.practice_id == account["practice"]
    assert issued.user.created_at <= issued.user.updated_at
    assert issued.scope == "fulfillment:read fulfillment:write"
    # Access 60 minutes, refresh 7 days.
    assert timedelta(minutes=59) < issued.expires_at - before <= timedelta(minutes=61)
    assert timedelta(days=7) - timedelta(minutes=1) < issued.refresh_expires_at - before
    assert issued.refresh_expires_at - before <= timedelta(days=7, minutes=1)

    # The surface's bearer check takes it like any app's token.
    principal = bearer_principal(tokens, f"Bearer {issued.access_token}")
    assert principal.subject == str(account["user"])
    assert principal.practice_ids == (account["practice"],)
    assert principal.scopes == {"fulfillment:read", "fulfillment:write"}
    assert principal.has("fulfillment:read") and principal.has("fulfillment:write")
    assert principal.client_id == f"optihub-fulfillment:{account['practice']}"

    # Stored as an OAuth pair: the refresh token only as its digest.
    with db.transaction() as s:
        row = s.scalar(select(OAuthToken).where(OAuthToken.access_jti == principal.jti))
        assert row is not None
        assert row.refresh_token_hash == sha256_hex(issued.refresh_token)
        assert row.user_id == account["user"]
        assert row.practice_ids == [account["practice"]]
        assert row.scope == "fulfillment:read fulfillment:write"
        user = s.get(User, account["user"])
        assert user is not None and user.last_login_at is not None


@pytest.mark.parametrize(
    ("email", "password"),
    [("dana@example.com", "wrong password"), ("nobody@example.com", PASSWORD)],
)
def test_bad_password_or_unknown_email_is_one_refusal(
    db, tokens, throttle, account, email, password
):
    with pytest.raises(AuthError) as refused:
        login(db, tokens, throttle, email, password)
    assert refused.value.status_code == 401
    assert refused.value.code == "invalid_credentials"
    assert refused.value.message == "The email and password don't match an account"
    with db.transaction() as s:
        assert s.scalar(select(OAuthToken)) is None


def test_throttled_after_five_failures_like_the_sign_in_page(db, tokens, throttle, account):
    for _ in range(5):
        with pytest.raises(AuthError):
            login(db, tokens, throttle, account["email"], "wrong password")
    # Even the right password now waits.
    with pytest.raises(RateLimited) as limited:
        login(db, tokens, throttle, account["email"], PASSWORD)
    assert limited.value.retry_after_seconds > 0
    assert "Too many failed sign-ins" in limited.value.message
    # The sign-in page's throttle is the same one: it refuses this account too.
    assert throttle.retry_after(account["email"], "198.51.100.1") > 0


def test_a_success_clears_the_account_failures(db, tokens, throttle, account):
    for _ in range(4):
        with pytest.raises(AuthError):
            login(db, tokens, throttle, account["email"], "wrong password")
    login(db, tokens, throttle, account["email"], PASSWORD)
    for _ in range(4):
        with pytest.raises(AuthError):
            login(db, tokens, throttle, account["email"], "wrong password")
    login(db, tokens, throttle, account["email"], PASSWORD)


def test_switched_off_refuses_sign_in_and_points_to_oauth_apps(db, tokens, throttle, account):
    issued = login(db, tokens, throttle, account["email"], PASSWORD)
    with db.transaction() as s:
        practice = s.get(Practice, account["practice"])
        assert practice is not None
        practice.fulfillment_login_enabled = False
    with pytest.raises(Forbidden) as refused:
        login(db, tokens, throttle, account["email"], PASSWORD)
    assert "switched off" in refused.value.message
    assert "OAuth app" in refused.value.message
    with pytest.raises(Forbidden):
        auth.refresh(db, tokens, issued.refresh_token)
    # A wrong password is still just a wrong password (nothing said about the practice).
    with pytest.raises(AuthError):
        login(db, tokens, throttle, account["email"], "wrong password")


def test_refresh_rotates_and_the_old_refresh_token_fails(db, tokens, throttle, account):
    first = login(db, tokens, throttle, account["email"], PASSWORD)
    second = auth.refresh(db, tokens, first.refresh_token)
    assert second.access_token != first.access_token
    assert second.refresh_token != first.refresh_token
    assert second.user == first.user
    principal = bearer_principal(tokens, f"Bearer {second.access_token}")
    assert principal.scopes == {"fulfillment:read", "fulfillment:write"}
    with db.transaction() as s:
        rows = list(s.scalars(select(OAuthToken).order_by(OAuthToken.issued_at)))
        assert len({r.family_id for r in rows}) == 1
        assert rows[0].rotated_at is not None

    # The retired token again: refused, and the whole family is revoked (kept although
    # the call fails), the newest pair included.
    with pytest.raises(AuthError) as refused:
        auth.refresh(db, tokens, first.refresh_token)
    assert refused.value.status_code == 401
    assert "already used" in refused.value.message
    with pytest.raises(AuthError):
        auth.refresh(db, tokens, second.refresh_token)
    tokens.revocations.refresh()
    with pytest.raises(InvalidToken, match="revoked"):
        tokens.verify(second.access_token)


def test_a_third_refresh_chain_keeps_working(db, tokens, throttle, account):
    issued = login(db, tokens, throttle, account["email"], PASSWORD)
    for _ in range(3):
        issued = auth.refresh(db, tokens, issued.refresh_token)
    assert bearer_principal(tokens, f"Bearer {issued.access_token}").subject == str(account["user"])


def test_refresh_refuses_unknown_expired_and_foreign_tokens(db, tokens, throttle, account):
    with pytest.raises(AuthError):
        auth.refresh(db, tokens, "not-a-token")
    issued = login(db, tokens, throttle, account["email"], PASSWORD)
    with db.transaction() as s:
        row = s.scalar(
            select(OAuthToken).where(
                OAuthToken.refresh_token_hash == sha256_hex(issued.refresh_token)
            )
        )
        assert row is not None
        row.refresh_expires_at = datetime.now(UTC) - timedelta(seconds=1)
    with pytest.raises(AuthError, match="expired"):
        auth.refresh(db, tokens, issued.refresh_token)
    # An OAuth app's refresh token is the authorization server's business.
    with db.transaction() as s:
        s.add(
            OAuthToken(
                client_id="app_0123456789",
                user_id=account["user"],
                practice_ids=[account["practice"]],
                scope="fulfillment:read",
                access_jti="jti-" + uuid.uuid4().hex,
                access_expires_at=datetime.now(UTC) + timedelta(minutes=5),
                refresh_token_hash=sha256_hex("app-refresh-token"),
                refresh_expires_at=datetime.now(UTC) + timedelta(days=1),
            )
        )
    with pytest.raises(AuthError):
        auth.refresh(db, tokens, "app-refresh-token")


def test_refresh_refuses_a_deactivated_user(db, tokens, throttle, account):
    issued = login(db, tokens, throttle, account["email"], PASSWORD)
    with db.transaction() as s:
        user = s.get(User, account["user"])
        assert user is not None
        user.is_active = False
    with pytest.raises(AuthError):
        auth.refresh(db, tokens, issued.refresh_token)


def test_verify_gives_the_user_of_a_token(db, tokens, throttle, account):
    issued = login(db, tokens, throttle, account["email"], PASSWORD)
    principal = bearer_principal(tokens, f"Bearer {issued.access_token}")
    with db.transaction() as s:
        user = auth.verify(s, principal.subject, principal.practice_ids)
    assert user == issued.user
    # An OAuth app's user token works too.
    app_token = tokens.issue_access_token(
        client_id="app_x",
        subject=str(account["user"]),
        scope="fulfillment:read",
        practice_ids=[account["practice"]],
    ).token
    app_principal = bearer_principal(tokens, f"Bearer {app_token}")
    with db.transaction() as s:
        assert (
            auth.verify(s, app_principal.subject, app_principal.practice_ids).id
            == (account["user"])
        )
        # Client credentials (no user), a stranger's practice, a deactivated user: 401.
        with pytest.raises(AuthError):
            auth.verify(s, "app_x", [account["practice"]])
        with pytest.raises(AuthError):
            auth.verify(s, principal.subject, [account["practice"] + 1000])
        user_row = s.get(User, account["user"])
        assert user_row is not None
        user_row.is_active = False
        with pytest.raises(AuthError):
            auth.verify(s, principal.subject, principal.practice_ids)


def test_several_practices_need_one_named(db, tokens, throttle, account):
    with db.transaction() as s:
        other = factories.practice(s, "Second Sight").id
        third = factories.practice(s, "Third Eye").id
        s.add(Membership(practice_id=other, user_id=account["user"], role="owner"))
    with pytest.raises(BadRequest) as ambiguous:
        login(db, tokens, throttle, account["email"], PASSWORD)
    assert ambiguous.value.code == "practice_required"
    issued = login(db, tokens, throttle, account["email"], PASSWORD, practice_id=other)
    assert issued.user.practice_id == other
    assert issued.user.role == "owner"
    assert bearer_principal(tokens, f"Bearer {issued.access_token}").practice_ids == (other,)
    with pytest.raises(Forbidden):
        login(db, tokens, throttle, account["email"], PASSWORD, practice_id=third)


def test_access_token_lifetime_is_an_hour(db, tokens, throttle, account):
    issued = login(db, tokens, throttle, account["email"], PASSWORD)
    claims = tokens.verify(issued.access_token)
    assert claims.expires_at - int(time.time()) in range(3590, 3601)
