"""``services.oauth_clients``: a practice connects a registered app by its client id, lists
the apps with access to it, and disconnects one (its consents for the practice and its live
tokens carrying the practice go with it; other practices keep theirs)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from optihub.db.base import utcnow
from optihub.db.models import OAuthToken, RevokedAccessToken
from optihub.errors import NotFound, ValidationFailed
from optihub.services import oauth_clients, oauth_tokens, users
from optihub.services.context import Actor
from tests import factories


def _actor(practice_id: int) -> Actor:
    return Actor(practice_id=practice_id, via="dashboard", label="owner")


def _token(s, client_id: str, practice_ids: list[int], user_id=None) -> OAuthToken:
    return oauth_tokens.record_issued(
        s,
        family_id=uuid.uuid4(),
        client_id=client_id,
        user_id=user_id,
        practice_ids=practice_ids,
        scope="orders:read",
        access_jti=uuid.uuid4().hex,
        access_expires_at=utcnow() + timedelta(minutes=10),
        refresh_token=uuid.uuid4().hex if user_id else None,
    )


def test_connect_list_and_disconnect(db):
    with db.transaction() as s:
        harbor = factories.practice(s, "Harbor Optical").id
        hilltop = factories.practice(s, "Hilltop Vision").id
        user = users.create_user(
            s, email="dana@harbor.test", password="pw-12345678", practice_id=harbor, role="owner"
        )
        app = oauth_clients.register_client(
            s, name="Frame Feed", scope="orders:read", redirect_uris=[], practice_ids=[hilltop]
        ).client
        client_id = app.client_id

        connected, new = oauth_clients.connect_client(s, _actor(harbor), f" {client_id} ")
        assert (connected.client_id, new) == (client_id, True)
        assert oauth_clients.connect_client(s, _actor(harbor), client_id)[1] is False
        assert oauth_clients.connected_practice_ids(s, app) == [harbor, hilltop]

        oauth_tokens.record_consent(
            s, user_id=user.id, client_id=client_id, practice_id=harbor, scope="read:orders"
        )
        listed = oauth_clients.practice_apps(s, harbor)
        assert [(a.client.name, a.connected, len(a.grants)) for a in listed] == [
            ("Frame Feed", True, 1)
        ]
        assert listed[0].scope == "orders:read read:orders"

        ours = _token(s, client_id, [harbor])
        both = _token(s, client_id, [harbor, hilltop])
        theirs = _token(s, client_id, [hilltop])
        granted = _token(s, client_id, [harbor], user_id=user.id)

        oauth_clients.disconnect_client(s, _actor(harbor), client_id)

        assert oauth_clients.connected_practice_ids(s, app) == [hilltop]
        assert oauth_clients.practice_apps(s, harbor) == []
        assert [a.client.client_id for a in oauth_clients.practice_apps(s, hilltop)] == [client_id]
        revoked = set(s.scalars(select(RevokedAccessToken.jti)))
        assert revoked == {ours.access_jti, both.access_jti, granted.access_jti}
        assert theirs.revoked_at is None and granted.revoked_at is not None

        with pytest.raises(NotFound):  # nothing left to disconnect here
            oauth_clients.disconnect_client(s, _actor(harbor), client_id)


def test_unknown_and_public_apps_are_refused(db):
    with db.transaction() as s:
        harbor = factories.practice(s, "Harbor Optical").id
        public = oauth_clients.register_client(
            s,
            name="Phone Rx",
            scope="orders:read",
            redirect_uris=["https://rx.example/cb"],
            public=True,
        ).client
        for client_id in ("app_unknown", public.client_id):
            with pytest.raises(ValidationFailed) as refused:
                oauth_clients.connect_client(s, _actor(harbor), client_id)
            assert refused.value.errors[0].field == "client_id"
        assert oauth_clients.connected_practice_ids(s, public) == []
