"""The admin pages' world: a practice with an owner, a manager and a member of staff, a
second practice with its owner, and a way to be any of them in a browser of one's own
(a TestClient over https with its own cookies)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html import unescape

import httpx
import pytest
from fastapi.testclient import TestClient

from optihub.services import users
from tests import factories

PASSWORD = "correct horse battery"
OWNER = "olivia@harbor.test"
MANAGER = "marco@harbor.test"
STAFF = "sam@harbor.test"
OTHER_OWNER = "hugo@hilltop.test"


@dataclass(frozen=True)
class World:
    practice_id: int
    other_practice_id: int


@pytest.fixture
def world(db) -> World:
    with db.transaction() as s:
        practice = factories.practice(s, "Harbor Optical")
        other = factories.practice(s, "Hilltop Vision")
        for email, role, first in (
            (OWNER, "owner", "Olivia"),
            (MANAGER, "manager", "Marco"),
            (STAFF, "staff", "Sam"),
        ):
            users.create_user(
                s,
                email=email,
                password=PASSWORD,
                practice_id=practice.id,
                role=role,
                first_name=first,
                last_name="Harbor",
            )
        users.create_user(
            s, email=OTHER_OWNER, password=PASSWORD, practice_id=other.id, role="owner"
        )
    return World(practice.id, other.id)


def sign_in_as(client, email: str, password: str) -> None:
    """Sign ``client`` in through the sign-in page, as a browser would."""
    response = client.post(
        "/login",
        data={
            "email": email,
            "password": password,
            "csrf_token": csrf_of(client.get("/login").text),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, "no CSRF token on the page"
    return found[1]


def text_of(html: str) -> str:
    """The page's text as a reader sees it (tags dropped, entities decoded, spaces folded)."""
    body = re.sub(r"<script.*?</script>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", body)).split())


class Agent:
    """One person's browser: their own cookies over the test's one client (redirects are
    not followed)."""

    def __init__(self, http: TestClient) -> None:
        self.http = http
        self.jar = httpx.Cookies()
        self.csrf = ""

    def request(self, method: str, path: str, **kwargs):
        self.http.cookies = self.jar
        try:
            return self.http.request(method, path, follow_redirects=False, **kwargs)
        finally:
            self.jar = httpx.Cookies(self.http.cookies)
            self.http.cookies = httpx.Cookies()

    def sign_in(self, email: str) -> Agent:
        page = self.get("/login")
        response = self.request(
            "POST",
            "/login",
            data={"email": email, "password": PASSWORD, "csrf_token": csrf_of(page.text)},
        )
        assert response.status_code == 303, response.text
        self.csrf = csrf_of(self.get("/dashboard/orders").text)
        return self

    def get(self, path: str):
        return self.request("GET", path)

    def post(self, path: str, data=None, *, csrf: bool = True):
        form = dict(data or {})
        if csrf:
            form.setdefault("csrf_token", self.csrf)
        return self.request("POST", path, data=form)


@pytest.fixture
def https(app) -> Iterator[TestClient]:
    """The app over https (its token endpoints answer nothing else)."""
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def agent(https) -> Callable[[str], Agent]:
    """``agent(email)``: a browser signed in as ``email``."""
    return lambda email: Agent(https).sign_in(email)
