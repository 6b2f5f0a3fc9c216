"""The pages and the API reference work under the content security policy every response
carries (no inline script or style): in Debian's chromium, headless, nothing is refused,
the stylesheets apply and Swagger UI renders the OpenAPI document."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.api.oauth.conftest import PASSWORD
from tests.browser.staff import screenshot, serious_accessibility_problems


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
    screenshot(page, "sign-in")
    assert serious_accessibility_problems(page) == []
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
