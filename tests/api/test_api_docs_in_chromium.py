"""A dialect's API reference page in Debian's chromium, under the content security policy:
Swagger UI's "Authorize" gets a token from OptiHub's authorization server (client
credentials on the lab-order page; authorization code with PKCE, through sign-in and
consent, on the partner page) and "Try it out" sends it: the call answers 200."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from optihub.services import oauth_clients, users
from tests import factories
from tests.api.oauth.conftest import live_server
from tests.browser.conftest import Watched
from tests.browser.staff import screenshot
from tests.browser.test_consent_in_chromium import ARGS, CHROMIUM

__all__ = ["live_server"]  # the live server fixture, imported to be found here

PASSWORD = "harbor-password-1"
STAFF = "optician@harbor.example"


@pytest.fixture
def watched() -> Iterator[Watched]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield Watched(chromium.new_page())
        finally:
            chromium.close()


@pytest.fixture
def app_of_the_practice(db, live_server) -> dict[str, Any]:
    """A practice with a member of staff, and a confidential app connected to it that may
    use this server's Swagger UI as its redirect URI."""
    with db.transaction() as s:
        practice = factories.practice(s, "Harbor Optical")
        users.create_user(s, email=STAFF, password=PASSWORD, practice_id=practice.id, role="owner")
        registered = oauth_clients.register_client(
            s,
            name="Integration Explorer",
            scope="lab_catalog:read orders:read",
            redirect_uris=[f"{live_server.url}/docs/oauth2-redirect"],
            practice_ids=[practice.id],
        )
    return {"client_id": registered.client.client_id, "secret": registered.client_secret}


def open_authorize(page: Page) -> None:
    page.locator(".auth-wrapper button.authorize").click()
    expect(page.locator(".modal-ux")).to_be_visible()


def scheme_box(page: Page, name: str) -> Any:
    return page.locator(".auth-container").filter(has=page.locator(f"h4:has-text('{name}')"))


def authorize(box: Any, client_id: str, secret: str, scope: str) -> None:
    box.locator("input[data-name='clientId']").fill(client_id)
    box.locator("input[data-name='clientSecret']").fill(secret)
    box.locator(f"label[for^='{scope}']").first.click()
    box.locator("button.authorize").click()


def try_it_out(page: Page, method: str, path: str, fill: dict[str, str] | None = None) -> Any:
    """Send the operation from its block with "Try it out"; its response's status cell."""
    block = page.locator(f".opblock-{method}").filter(
        has=page.locator(f".opblock-summary-path[data-path='{path}']")
    )
    block.locator(".opblock-summary").first.click()
    block.get_by_role("button", name="Try it out").click()
    for name, value in (fill or {}).items():
        block.locator(f"tr[data-param-name='{name}'] input").fill(value)
    block.get_by_role("button", name="Execute").click()
    status = block.locator(".live-responses-table .response .response-col_status").first
    expect(status).to_be_visible(timeout=30_000)
    return status


@pytest.mark.browser
def test_client_credentials_authorize_and_try_it_out_on_the_lab_page(
    live_server, app_of_the_practice, watched
):
    page = watched.page
    response = page.goto(f"{live_server.url}/docs/labs")
    assert (
        response is not None and "script-src 'self'" in response.headers["content-security-policy"]
    )
    # On a busy machine rendering the document takes a while.
    expect(page.locator(".swagger-ui .info .title")).to_contain_text(
        "Lab ordering API", timeout=60_000
    )
    assert page.locator(".opblock").count() == 8  # this dialect's operations only
    open_authorize(page)
    # Its apps use client credentials (or a token pasted as bearer): no authorization code.
    assert scheme_box(page, "authorizationCode").count() == 0
    authorize(
        scheme_box(page, "clientCredentials"),
        app_of_the_practice["client_id"],
        app_of_the_practice["secret"],
        "lab_catalog:read",
    )
    expect(scheme_box(page, "clientCredentials")).to_contain_text("Authorized", timeout=30_000)
    page.locator(".modal-ux .close-modal").click()
    status = try_it_out(page, "get", "/v1/labs", {"User-Email": STAFF})
    expect(status).to_have_text("200")
    screenshot(page, "api-docs-labs-try-it-out")
    assert watched.problems == []


@pytest.mark.browser
def test_authorization_code_with_pkce_authorize_and_try_it_out_on_the_partner_page(
    live_server, app_of_the_practice, watched
):
    page = watched.page
    page.goto(f"{live_server.url}/docs/partner")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Partner API", timeout=60_000)
    open_authorize(page)
    box = scheme_box(page, "authorizationCode")
    box.locator("input[data-name='clientId']").fill(app_of_the_practice["client_id"])
    box.locator("input[data-name='clientSecret']").fill(app_of_the_practice["secret"])
    box.locator("label[for^='orders:read']").first.click()
    # Sign-in and consent open in a window of their own; the redirect page hands the code
    # back to Swagger UI, which exchanges it with the PKCE verifier.
    with page.expect_popup() as opened:
        box.locator("button.authorize").click()
    consent = opened.value
    consent.get_by_label("Email").fill(STAFF)
    consent.get_by_label("Password").fill(PASSWORD)
    consent.get_by_role("button", name="Sign in").click()
    consent.wait_for_url("**/oauth/authorize?**")
    assert "code_challenge_method=S256" in consent.url
    screenshot(consent, "api-docs-partner-consent")
    consent.get_by_role("button", name="Allow").click()
    expect(box).to_contain_text("Authorized", timeout=30_000)
    screenshot(page, "api-docs-partner-authorized")
    page.locator(".modal-ux .close-modal").click()
    status = try_it_out(page, "get", "/api/v1/partner/orders")
    expect(status).to_have_text("200")
    assert watched.problems == []


@pytest.mark.browser
def test_the_whole_reference_links_every_dialects_page(live_server, watched):
    page = watched.page
    page.goto(f"{live_server.url}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("OptiHub", timeout=60_000)
    nav = page.get_by_role("navigation", name="API reference by dialect")
    expect(nav.get_by_role("link", name="Every dialect")).to_have_attribute("aria-current", "page")
    nav.get_by_role("link", name="Patient portal sync").click()
    page.wait_for_url("**/docs/portal")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text(
        "Patient portal sync", timeout=60_000
    )
    expect(page.locator(".opblock-tag-section").first).to_contain_text("Portal · ")
    screenshot(page, "api-docs-portal")
    assert watched.problems == []
