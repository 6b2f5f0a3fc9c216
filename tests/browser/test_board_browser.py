"""The orders board in Debian's chromium: an owner signs in, lands on the board, finds an
order by the patient's name and opens the draft column; every view is screenshotted and
checked by axe-core."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.api.dashboard.test_board import OWNER, PASSWORD, build_world
from tests.browser.staff import screenshot, serious_accessibility_problems, sign_in


@pytest.mark.browser
def test_an_owner_finds_an_order_by_name_and_sees_how_long_it_waited(live_server, db, watched):
    world = build_world(db)
    page = watched.page
    sign_in(page, live_server.url, OWNER, PASSWORD)
    page.wait_for_url("**/dashboard/orders")
    expect(page.get_by_role("link", name="Orders", exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    expect(page.get_by_role("link", name="Received 2")).to_have_attribute("aria-current", "page")
    garcia = page.get_by_role("row").filter(has_text=world.numbers["garcia"])
    expect(garcia).to_contain_text("Maria Garcia")
    expect(garcia).to_contain_text("Overdue")
    screenshot(page, "board")
    assert serious_accessibility_problems(page) == []

    # One search, by name, from the keyboard.
    page.get_by_label("Search orders").fill("Wei Chen")
    page.keyboard.press("Enter")
    page.wait_for_url("**q=Wei+Chen**")
    expect(page.get_by_role("heading", name="Orders matching “Wei Chen”")).to_be_visible()
    expect(page.get_by_role("row")).to_have_count(3)  # the header and two orders
    expect(page.get_by_role("row").filter(has_text=world.numbers["at_lab"])).to_contain_text(
        "At the lab"
    )
    screenshot(page, "board-search")
    assert serious_accessibility_problems(page) == []

    page.get_by_role("link", name="Draft 1").click()
    expect(page.get_by_role("heading", name="Draft", exact=True)).to_be_visible()
    # A tablet's width: the header wraps, nothing overflows the page.
    page.set_viewport_size({"width": 820, "height": 1180})
    screenshot(page, "board-tablet")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 820
    assert watched.problems == []
