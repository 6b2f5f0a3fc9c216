"""A person signs in and approves an app in a real browser (Debian's chromium, headless);
the authorization code arrives at the app's redirect URI."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import sync_playwright

from tests.api.oauth.conftest import PASSWORD, pkce_pair
from tests.browser.staff import screenshot

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def receiver():
    """The app's redirect URI: a loopback server that records what arrives."""
    arrived: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path == "/cb":  # the browser also asks for /favicon.ico
                arrived.append({k: v[0] for k, v in parse_qs(parts.query).items()})
            body = b"<!doctype html><title>Connected</title><p>You can close this window.</p>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            return

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/cb", arrived
    server.shutdown()


@pytest.mark.browser
def test_sign_in_and_approve_in_chromium(live_server, world, receiver):
    redirect_uri, arrived = receiver
    _verifier, challenge = pkce_pair()
    url = (
        f"{live_server.url}/oauth/authorize?response_type=code&client_id={world.client_id}"
        f"&redirect_uri={redirect_uri}&scope=openid%20orders:read&state=xyz-42"
        f"&code_challenge={challenge}&code_challenge_method=S256"
    )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = chromium.new_page()
            page.goto(url)
            assert page.title().startswith("Sign in")
            page.get_by_label("Email").fill(world.email)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url("**/oauth/authorize?**")
            assert page.get_by_role("heading", name="Allow Acme Lab Connector").is_visible()
            screenshot(page, "consent")
            assert page.get_by_text("Read the practice's orders").is_visible()
            assert page.get_by_label("For which practice").input_value() == str(world.practice_id)
            page.get_by_role("button", name="Allow").click()
            page.wait_for_url(f"{redirect_uri}?**")
            assert page.get_by_text("You can close this window").is_visible()
        finally:
            chromium.close()
    assert len(arrived) == 1
    assert arrived[0]["state"] == "xyz-42"
    assert arrived[0]["iss"] == live_server.url
    assert len(arrived[0]["code"]) >= 40
