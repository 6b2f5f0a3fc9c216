"""Fixtures of the browser tests: the live server and world of the OAuth tests, and
``watched``: a chromium page that records what the browser refused or failed on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, sync_playwright

from tests.api.oauth.conftest import browser, live_server, world  # noqa: F401  (shared fixtures)
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
