"""A real OptiHub server on a loopback port, a registered app and a signed-in browser."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import uvicorn

from optihub.app import create_app
from optihub.services import oauth_clients, users
from optihub.settings import Settings
from tests import factories

PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_server(db, tmp_path):
    """OptiHub served by uvicorn in a thread, over the test database."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings.from_env(
        {
            "OPTIHUB_DATABASE_URL": db.url,
            "OPTIHUB_DATA_DIR": str(tmp_path / "data"),
            "OPTIHUB_PUBLIC_URL": base,
            "OPTIHUB_RUN_WORKER": "false",
        }
    )
    app = create_app(settings, database=db)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            pytest.fail("server did not start")
        time.sleep(0.05)
    yield type("Live", (), {"url": base, "app": app})
    server.should_exit = True
    thread.join(timeout=10)


@dataclass
class World:
    practice_id: int
    other_practice_id: int
    email: str
    client_id: str
    client_secret: str
    redirect_uri: str


@pytest.fixture
def world(db):
    with db.transaction() as s:
        practice = factories.practice(s, "Harbor Optical")
        other = factories.practice(s, "Hilltop Vision")
        users.create_user(
            s,
            email="dana@harbor.test",
            password=PASSWORD,
            practice_id=practice.id,
            role="owner",
            first_name="Dana",
            last_name="Whitfield",
        )
        registered = oauth_clients.register_client(
            s,
            name="Acme Lab Connector",
            scope="openid email profile orders:read frames:read",
            redirect_uris=["https://lab.example/callback", "http://127.0.0.1/cb"],
            practice_ids=[practice.id],
        )
    return World(
        practice.id,
        other.id,
        "dana@harbor.test",
        registered.client.client_id,
        registered.client_secret,
        "https://lab.example/callback",
    )


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    return verifier, challenge.decode()


def hidden_fields(html: str) -> list[tuple[str, str]]:
    return re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html)


def as_form(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    form: dict[str, list[str]] = {}
    for key, value in pairs:
        form.setdefault(key, []).append(value)
    return form


def csrf_of(html: str) -> str:
    return dict(hidden_fields(html))["csrf_token"]


class Browser:
    """A user agent that keeps cookies and does not follow redirects by itself."""

    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base, follow_redirects=False, timeout=10)

    def login(self, email: str, password: str = PASSWORD, next_url: str = "/account/apps"):
        page = self.http.get("/login", params={"next": next_url})
        return self.http.post(
            "/login",
            data={
                "email": email,
                "password": password,
                "next": next_url,
                "csrf_token": csrf_of(page.text),
            },
        )

    def authorize(self, url: str, decision: str = "approve", practice_id: int | None = None):
        """Open the authorization URL (signed in) and answer the consent page."""
        consent = self.http.get(url)
        assert consent.status_code == 200, consent.text
        fields = [(k, v) for k, v in hidden_fields(consent.text)]
        fields.append(("decision", decision))
        if practice_id is not None:
            fields.append(("practice_id", str(practice_id)))
        return self.http.post("/oauth/authorize", data=as_form(fields))


@pytest.fixture
def browser(live_server):
    agent = Browser(live_server.url)
    yield agent
    agent.http.close()


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
