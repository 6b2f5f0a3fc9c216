"""Staff sessions (the sign-in cookie): sign-out ends a session on the server, and a new
app's client secret never travels in the cookie."""

from __future__ import annotations

import base64
import json
import re
from datetime import timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update

from optihub.db.base import utcnow
from optihub.db.models import OAuthClient, StaffSession
from optihub.services import users
from tests import factories

EMAIL = "ines@harbor.test"
PASSWORD = "a long staff password"
COOKIE = "optihub_session"


@pytest.fixture
def staff(db) -> str:
    with db.transaction() as s:
        practice = factories.practice(s, "Harbor Optical")
        users.create_user(s, email=EMAIL, password=PASSWORD, practice_id=practice.id, role="owner")
    return EMAIL


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def cookie_of(response: Any) -> str:
    """The session cookie the response sets."""
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        if name == COOKIE:
            return rest.split(";", 1)[0]
    raise AssertionError(f"no {COOKIE} cookie in {response.headers}")


def cookie_payload(value: str) -> dict[str, Any]:
    """What anyone holding the cookie can read: the base64 JSON before the signature."""
    data = value.split(".", 1)[0]
    return json.loads(base64.b64decode(data + "=" * (-len(data) % 4)))


class Agent:
    """One browser: its own session cookie, sent by hand so a test can keep an old one."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.cookie = ""
        self.seen: list[str] = []

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        self.client.cookies.clear()  # the test client's jar is shared by every agent
        headers = {"Cookie": f"{COOKIE}={self.cookie}"} if self.cookie else {}
        response = self.client.request(
            method, url, headers=headers, follow_redirects=False, **kwargs
        )
        for header in response.headers.get_list("set-cookie"):
            if header.startswith(f"{COOKIE}="):
                self.cookie = cookie_of(response)
                self.seen.append(self.cookie)
        return response

    def sign_in(self) -> None:
        page = self.request("GET", "/login")
        signed_in = self.request(
            "POST",
            "/login",
            data={"email": EMAIL, "password": PASSWORD, "csrf_token": csrf_of(page.text)},
        )
        assert signed_in.status_code == 303, signed_in.text


@pytest.fixture
def agent(client) -> Agent:
    return Agent(client)


def is_sign_in_redirect(response: Any) -> bool:
    return response.status_code == 303 and response.headers["location"].startswith("/login?")


def test_a_cookie_saved_before_sign_out_no_longer_opens_the_pages(agent, staff):
    agent.sign_in()
    apps = agent.request("GET", "/account/apps")
    assert apps.status_code == 200
    saved = agent.cookie

    signed_out = agent.request("POST", "/logout", data={"csrf_token": csrf_of(apps.text)})
    assert signed_out.status_code == 303

    agent.cookie = saved  # someone kept a copy of the cookie
    assert is_sign_in_redirect(agent.request("GET", "/account/apps"))
    assert is_sign_in_redirect(agent.request("GET", "/account/developer"))
    assert is_sign_in_redirect(agent.request("GET", "/dashboard/orders"))


def test_signing_out_ends_only_that_session(client, staff):
    front_desk, back_office = Agent(client), Agent(client)
    front_desk.sign_in()
    back_office.sign_in()
    page = front_desk.request("GET", "/account/apps")
    front_desk.request("POST", "/logout", data={"csrf_token": csrf_of(page.text)})

    assert is_sign_in_redirect(front_desk.request("GET", "/account/apps"))
    assert back_office.request("GET", "/account/apps").status_code == 200


def test_a_new_apps_secret_is_shown_once_and_never_put_in_the_cookie(agent, staff, db):
    agent.sign_in()
    page = agent.request("GET", "/dashboard/apps")  # the developer page moved there
    registered = agent.request(
        "POST",
        "/account/developer",
        data={
            "csrf_token": csrf_of(page.text),
            "name": "Front Desk Sync",
            "redirect_uris": "https://sync.example/cb",
            "scope": ["orders:read"],
            "client_type": "confidential",
        },
    )
    assert registered.status_code == 303
    after_registering = agent.cookie

    shown = agent.request("GET", "/dashboard/apps")
    assert "shown this once" in shown.text
    secret = re.findall(r'<p class="secret" id="new-secret">([^<]+)</p>', shown.text)[-1].strip()
    with db.reading() as reader:
        stored = reader.scalar(
            select(OAuthClient.client_secret_hash).where(OAuthClient.name == "Front Desk Sync")
        )
    assert stored is not None
    assert PasswordHasher().verify(stored, secret)

    for value in agent.seen:
        payload = cookie_payload(value)
        assert "client_secret" not in json.dumps(payload)
        assert secret not in json.dumps(payload)
        assert secret not in value

    assert "shown this once" not in agent.request("GET", "/dashboard/apps").text
    agent.cookie = after_registering  # replaying the cookie does not bring it back
    again = agent.request("GET", "/dashboard/apps")
    assert again.status_code == 200
    assert secret not in again.text


def test_a_session_ends_at_its_lifetime_however_busy(agent, staff, db):
    agent.sign_in()
    assert agent.request("GET", "/account/apps").status_code == 200
    with db.transaction() as s:
        s.execute(update(StaffSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert is_sign_in_redirect(agent.request("GET", "/account/apps"))
    assert "email" not in cookie_payload(agent.cookie)  # the header no longer names them
