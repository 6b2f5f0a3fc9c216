"""Every staff page over the demo practice, in Debian's chromium: each is drawn in the shell,
photographed (var/screenshots/tour-*.png), has no serious or critical accessibility problem
(axe-core), and every control on it is reachable from the keyboard.

It looks at pages, not at storage: it runs on SQLite only (``pages_only``)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from optihub.db.models import Order
from optihub.demo import DEMO_EMAIL, DEMO_PASSWORD, seed_demo
from optihub.domain.orders import OrderStatus
from tests.browser.staff import screenshot, serious_accessibility_problems, sign_in

# Controls a keyboard cannot reach: focusable only by the mouse, or not focusable at all.
UNREACHABLE = """() => [...document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, summary, [onclick], [role=button]'
)].filter(e => e.tabIndex < 0 || (!['A','BUTTON','INPUT','SELECT','TEXTAREA','SUMMARY']
    .includes(e.tagName))).map(e => e.outerHTML.slice(0, 120))"""


@pytest.mark.browser
@pytest.mark.pages_only
def test_every_staff_page_is_accessible_and_keyboard_reachable(live_server, db, watched):
    with db.transaction() as s:
        seed_demo(s, key=live_server.app.state.instance_key)
    with db.reading() as r:
        order_id = r.scalar(
            select(Order.id).where(Order.status == OrderStatus.IN_PROGRESS.value).limit(1)
        )
        draft_id = r.scalar(
            select(Order.id).where(Order.status == OrderStatus.DRAFT.value).limit(1)
        )
    page = watched.page
    sign_in(page, live_server.url, DEMO_EMAIL, DEMO_PASSWORD)
    page.wait_for_url("**/dashboard/orders")
    pages = {
        "board": "/dashboard/orders",
        "board-overdue-at-lab": "/dashboard/orders?status=in_progress",
        "board-drafts": "/dashboard/orders?status=draft",
        "order": f"/dashboard/orders/{order_id}",
        "draft": f"/dashboard/drafts/{draft_id}",
        "stock": "/dashboard/stock",
        "stock-import": "/dashboard/stock/import",
        "apps": "/dashboard/apps",
        "webhooks": "/dashboard/webhooks",
        "settings": "/dashboard/settings",
        "account-apps": "/account/apps",
    }
    problems: dict[str, object] = {}
    for name, path in pages.items():
        response = page.goto(live_server.url + path)
        assert response is not None and response.status == 200, (path, response)
        assert page.locator("header.site nav[aria-label=Main]").count() == 1, path
        assert "Clearview Eyecare (demo)" in page.locator("header.site").inner_text(), path
        screenshot(page, f"tour-{name}")
        found = serious_accessibility_problems(page)
        unreachable = page.evaluate(UNREACHABLE)
        if found or unreachable:
            problems[path] = {"axe": found, "keyboard": unreachable}
        if name == "webhooks":  # the demo's app, its subscription and delivery log
            shown = page.locator("main").inner_text()
            assert "Clearview PMS" in shown and "pms.clearview.example" in shown
        # Words of the trade, never the storage's: no enum value or field path shows.
        text = page.locator("main").inner_text()
        assert not re.search(r"\b(in_progress|drilled_and_grooved|rx\.right_eye)\b", text), path
    assert problems == {}
    # Tab from the top of the board reaches the search box, then the filters.
    page.goto(live_server.url + "/dashboard/orders")
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "q":
            break
    assert page.evaluate("document.activeElement.id") == "q"
    assert watched.problems == []
