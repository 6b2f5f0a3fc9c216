"""The apps page (/dashboard/apps): the apps with access to the practice, connecting and
disconnecting an app by its client id (and what that does to its client-credentials
tokens), registering an app (its secret shown once; a refused form kept as typed), roles,
another practice's apps, CSRF."""

from __future__ import annotations

import re

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from optihub.db.models import (
    AuditEntry,
    OAuthClient,
    OAuthConsent,
    User,
    oauth_client_practices,
)
from optihub.services import oauth_clients, oauth_tokens
from tests.api.dashboard.conftest import MANAGER, OTHER_OWNER, OWNER, STAFF, text_of

APPS = "/dashboard/apps"
SCOPE = "orders:read frames:read lab_orders:read"


def user_id(session, email: str):
    return session.scalars(select(User.id).where(User.email == email)).one()


def register(db, name: str = "Frame Feed", *, practice_ids=None, public=False, owner=None):
    with db.transaction() as s:
        owner_id = None
        if owner is not None:
            owner_id = user_id(s, owner)
        registered = oauth_clients.register_client(
            s,
            name=name,
            scope=SCOPE,
            redirect_uris=["https://feed.example/cb"] if public else [],
            public=public,
            owner_user_id=owner_id,
            practice_ids=practice_ids,
        )
    return registered.client.client_id, registered.client_secret


def connections(db, client_id: str) -> list[int]:
    with db.reading() as r:
        return list(
            r.scalars(
                select(oauth_client_practices.c.practice_id)
                .join(OAuthClient, OAuthClient.id == oauth_client_practices.c.client_pk)
                .where(OAuthClient.client_id == client_id)
                .order_by(oauth_client_practices.c.practice_id)
            )
        )


def client_credentials(https, client_id: str, secret: str):
    return https.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "frames:read"},
        auth=(client_id, secret),
    )


def count_clients(db) -> int:
    with db.reading() as r:
        return int(r.scalar(select(func.count()).select_from(OAuthClient)) or 0)


# -- the list ---------------------------------------------------------------------------------


def test_every_role_sees_the_practices_apps_with_their_permissions_in_plain_words(db, world, agent):
    register(db, "Frame Feed", practice_ids=[world.practice_id])
    register(db, "Hilltop Books", practice_ids=[world.other_practice_id])
    granted, _ = register(db, "Pickup Texts")
    with db.transaction() as s:
        oauth_tokens.record_consent(
            s,
            user_id=user_id(s, MANAGER),
            client_id=granted,
            practice_id=world.practice_id,
            scope="read:patients read:orders",
        )

    page = agent(STAFF).get(APPS)

    assert page.status_code == 200
    assert 'aria-current="page">Apps<' in page.text  # drawn in the shell, Apps chosen
    text = text_of(page.text)
    assert "Apps with access to Harbor Optical" in text
    assert "Frame Feed" in text and "Pickup Texts" in text
    assert "Hilltop Books" not in text  # another practice's app
    assert "Connected acts for the practice on its own" in text
    assert f"Granted by {MANAGER}" in text
    # Grouped by the API they belong to, in the registry's words.
    assert "Partner API Read the practice's orders Read the frame catalog" in text
    assert "Lab ordering API List lab orders and their lab status" in text
    assert "Practice management API Read patient records Read orders" in text
    # Staff see the apps but neither connect nor disconnect them.
    assert 'action="/dashboard/apps/connect"' not in page.text
    assert "/disconnect" not in page.text
    assert "A manager or the owner of the practice connects" in text


def test_signed_out_visitors_are_sent_to_sign_in(https, world):
    response = https.get(APPS, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?")


# -- connect and disconnect ---------------------------------------------------------------------


def test_a_manager_connects_an_app_which_then_gets_tokens_until_disconnected(
    db, world, agent, https, app
):
    client_id, secret = register(db, "Frame Feed", owner=OTHER_OWNER)
    assert secret is not None
    assert client_credentials(https, client_id, secret).status_code in (400, 401)
    manager = agent(MANAGER)

    connected = manager.post(APPS + "/connect", {"client_id": f"  {client_id} "})

    assert connected.status_code == 303
    assert connected.headers["location"] == APPS
    page = manager.get(APPS)
    assert "Frame Feed is connected: it can now act for Harbor Optical." in text_of(page.text)
    assert connections(db, client_id) == [world.practice_id]
    token = client_credentials(https, client_id, secret)
    assert token.status_code == 200, token.text
    access = token.json()["access_token"]
    frames = https.get("/api/v1/partner/frames", headers={"Authorization": f"Bearer {access}"})
    assert frames.status_code == 200, frames.text
    # The lab-order API's own token call (one connected practice) works too.
    lab = https.post("/v1/oauth/token", json={"client_id": client_id, "client_secret": secret})
    assert lab.status_code == 200, lab.text
    with db.reading() as r:
        assert r.scalar(select(AuditEntry.action).where(AuditEntry.target_id == client_id)) == (
            "app.connected"
        )

    again = manager.post(APPS + "/connect", {"client_id": client_id})
    assert again.status_code == 303
    assert "was already connected" in text_of(manager.get(APPS).text)

    disconnected = manager.post(f"{APPS}/{client_id}/disconnect")

    assert disconnected.status_code == 303
    assert "Frame Feed is disconnected" in text_of(manager.get(APPS).text)
    assert connections(db, client_id) == []
    refused = client_credentials(https, client_id, secret)
    assert refused.status_code in (400, 401)
    app.state.tokens.revocations.refresh()
    stale = https.get("/api/v1/partner/frames", headers={"Authorization": f"Bearer {access}"})
    assert stale.status_code == 401  # the token it held for the practice is revoked


def test_disconnecting_withdraws_the_users_grants_for_the_practice_only(db, world, agent):
    client_id, _ = register(db, "Pickup Texts")
    with db.transaction() as s:
        for email, practice_id in ((MANAGER, world.practice_id), (OTHER_OWNER, None)):
            oauth_tokens.record_consent(
                s,
                user_id=user_id(s, email),
                client_id=client_id,
                practice_id=practice_id or world.other_practice_id,
                scope="read:orders",
            )
    owner = agent(OWNER)
    assert "Pickup Texts" in text_of(owner.get(APPS).text)

    assert owner.post(f"{APPS}/{client_id}/disconnect").status_code == 303

    assert "Pickup Texts is disconnected" in text_of(owner.get(APPS).text)
    assert "Pickup Texts" not in text_of(owner.get(APPS).text)  # the notice shows once
    with db.reading() as r:
        live = r.scalars(
            select(OAuthConsent.practice_id).where(OAuthConsent.revoked_at.is_(None))
        ).all()
    assert live == [world.other_practice_id]


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("app_0123456789abcdef0123", "No app has that client id."),
        ("PUBLIC", "This is a public app (it has no secret)"),
        ("", "Enter the app's client id"),
    ],
)
def test_connecting_refuses_an_unknown_or_public_app_keeping_what_was_typed(
    db, world, agent, typed, problem
):
    public_id, _ = register(db, "Phone Rx", public=True)
    typed = public_id if typed == "PUBLIC" else typed

    refused = agent(MANAGER).post(APPS + "/connect", {"client_id": typed})

    assert refused.status_code == 400
    assert problem in text_of(refused.text)
    assert 'name="client_id" type="text"' in refused.text
    assert f'value="{typed}" aria-invalid="true"' in refused.text
    assert connections(db, public_id) == []


def test_staff_may_neither_connect_nor_disconnect(db, world, agent):
    stranger, _ = register(db, "Frame Feed")
    connected, _ = register(db, "Lab Bridge", practice_ids=[world.practice_id])
    staff = agent(STAFF)

    connect = staff.post(APPS + "/connect", {"client_id": stranger})
    disconnect = staff.post(f"{APPS}/{connected}/disconnect")

    for response in (connect, disconnect):
        assert response.status_code == 403
        assert "Your role in this practice does not allow this" in text_of(response.text)
    assert connections(db, stranger) == []
    assert connections(db, connected) == [world.practice_id]


def test_another_practices_app_cannot_be_disconnected_from_here(db, world, agent):
    theirs, _ = register(db, "Hilltop Books", practice_ids=[world.other_practice_id])

    response = agent(OWNER).post(f"{APPS}/{theirs}/disconnect")
    unknown = agent(OWNER).post(f"{APPS}/app_nosuchapp/disconnect")

    assert response.status_code == 404
    assert unknown.status_code == 404
    assert "There is no such app in this practice." in text_of(response.text)
    assert connections(db, theirs) == [world.other_practice_id]


# -- registering ---------------------------------------------------------------------------------


def test_registering_an_app_shows_its_secret_once_with_a_copy_button(db, world, agent):
    staff = agent(STAFF)  # any member registers their own apps

    registered = staff.post(
        APPS + "/register",
        {
            "name": "Front Desk Sync",
            "redirect_uris": "https://sync.example/cb\n\nhttp://127.0.0.1:8080/cb",
            "scope": ["orders:read", "lab_orders:write"],
            "client_type": "confidential",
        },
    )

    assert registered.status_code == 303
    assert registered.headers["location"] == APPS
    shown = staff.get(APPS)
    secret = re.search(r'<p class="secret" id="new-secret">([^<]+)</p>', shown.text)
    assert secret is not None
    assert 'data-copy="#new-secret"' in shown.text
    assert "The secret is shown this once." in text_of(shown.text)
    with db.transaction() as s:
        client = s.scalars(select(OAuthClient).where(OAuthClient.name == "Front Desk Sync")).one()
        assert client.client_secret_hash is not None
        assert PasswordHasher().verify(client.client_secret_hash, secret[1])
        assert client.scope == "orders:read lab_orders:write"
        assert client.redirect_uris == ["https://sync.example/cb", "http://127.0.0.1:8080/cb"]
        client_id = client.client_id
    assert client_id in shown.text

    again = staff.get(APPS)
    assert secret[1] not in again.text
    assert "shown this once" not in again.text
    text = text_of(again.text)
    assert "Your developer apps" in text
    assert "Front Desk Sync" in text and client_id in text
    assert "Lab ordering API Send Rx jobs to labs (draft or submit)" in text


def test_a_refused_registration_keeps_what_was_typed_and_says_why_in_plain_words(db, world, agent):
    before = count_clients(db)
    refused = agent(MANAGER).post(
        APPS + "/register",
        {
            "name": "  ",
            "redirect_uris": "http://sync.example/cb\nnot a web address",
            "scope": ["orders:read", "lab_orders:write"],
            "client_type": "public",
        },
    )

    assert refused.status_code == 400
    text = text_of(refused.text)
    assert "The app was not registered." in text
    assert "Give the app a name" in text
    assert "http://sync.example/cb must use https" in text
    assert "not a web address is not a full web address" in text
    assert "redirect_uris[" not in text and "name:" not in text  # no field paths
    # What was typed and ticked is still there.
    assert ">http://sync.example/cb\nnot a web address</textarea>" in refused.text
    ticked = re.findall(r'name="scope" value="([^"]+)" checked', refused.text)
    assert ticked == ["orders:read", "lab_orders:write"]
    assert '<option value="public" selected>' in refused.text
    assert 'aria-invalid="true" aria-describedby="name-error"' in refused.text
    assert count_clients(db) == before

    no_scope = agent(MANAGER).post(APPS + "/register", {"name": "Quiet App"})
    assert no_scope.status_code == 400
    assert "Choose at least one thing the app may do." in text_of(no_scope.text)
    assert 'value="Quiet App"' in no_scope.text
    assert count_clients(db) == before


def test_the_old_developer_address_leads_to_the_apps_page_and_its_form_still_registers(
    db, world, agent
):
    staff = agent(STAFF)
    moved = staff.get("/account/developer")
    assert moved.status_code == 303
    assert moved.headers["location"] == APPS

    registered = staff.post("/account/developer", {"name": "Old Form App", "scope": "orders:read"})

    assert registered.status_code == 303
    assert "The secret is shown this once." in text_of(staff.get(APPS).text)


# -- CSRF ----------------------------------------------------------------------------------------


def test_forms_without_their_csrf_token_are_refused_and_nothing_is_written(db, world, agent):
    stranger, _ = register(db, "Frame Feed")
    connected, _ = register(db, "Lab Bridge", practice_ids=[world.practice_id])
    owner = agent(OWNER)
    before = count_clients(db)

    for path, data in (
        (APPS + "/connect", {"client_id": stranger}),
        (f"{APPS}/{connected}/disconnect", {}),
        (APPS + "/register", {"name": "Sneaky", "scope": "orders:read"}),
    ):
        for token in (None, "forged"):
            form = data | ({"csrf_token": token} if token else {})
            response = owner.post(path, form, csrf=False)
            assert response.status_code == 403, path
            assert "form expired" in response.text.lower()

    assert connections(db, stranger) == []
    assert connections(db, connected) == [world.practice_id]
    assert count_clients(db) == before
