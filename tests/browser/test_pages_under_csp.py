"""The pages and the API reference work under the content security policy every response
carries (no inline script or style): in Debian's chromium, headless, nothing is refused,
the stylesheets apply and Swagger UI renders the OpenAPI document."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.api.oauth.conftest import PASSWORD
from tests.browser.test_consent_in_chromium import ARGS, CHROMIUM


class Watched:
    """A page and what the browser refused or failed on it."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.problems: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("requestfailed", lambda request: self.problems.append(f"failed: {request.url}"))
        page.on("response", self._response)

    def _console(self, message: Any) -> None:
        if "Failed to load resource" in message.text:
            return  # reported with its URL by _response
        if message.type == "error" or "Content Security Policy" in message.text:
            self.problems.append(f"console {message.type}: {message.text}")

    def _response(self, response: Any) -> None:
        # Browsers ask for /favicon.ico by themselves; the pages name none.
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            self.problems.append(f"{response.status}: {response.url}")


@pytest.fixture
def watched() -> Iterator[Watched]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield Watched(chromium.new_page())
        finally:
            chromium.close()


def background_of(page: Page, selector: str) -> str:
    return str(page.eval_on_selector(selector, "e => getComputedStyle(e).backgroundColor"))


@pytest.mark.browser
def test_swagger_ui_renders_the_api_reference(live_server, watched):
    page = watched.page
    response = page.goto(f"{live_server.url}/docs")
    assert response is not None
    assert "script-src 'self'" in response.headers["content-security-policy"]
    # The document is large: on a busy machine rendering it takes a while.
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("OptiHub", timeout=60_000)
    expect(page.locator(".opblock-tag-section").first).to_be_visible()
    assert page.locator(".opblock").count() > 20
    assert watched.problems == []


@pytest.mark.browser
def test_sign_in_and_dashboard_pages_are_styled(live_server, world, watched):
    page = watched.page
    page.goto(f"{live_server.url}/login")
    assert background_of(page, "body") == "rgb(245, 247, 250)"  # the served stylesheet
    page.get_by_label("Email").fill(world.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/dashboard/orders")
    assert background_of(page, "header.site") == "rgb(31, 41, 51)"
    page.goto(f"{live_server.url}/account/apps")
    assert background_of(page, "header.site") == "rgb(31, 41, 51)"  # the same shell
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login")
    assert watched.problems == []
