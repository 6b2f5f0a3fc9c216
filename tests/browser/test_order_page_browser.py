"""A member of staff works an order in a real browser (Debian's chromium, headless): they
open the order the lab is making, sign in, read the Rx in plus-cylinder form, mark it ready
for pickup, and see the move in the history. The page is photographed
(var/screenshots/order-page.png) and has no serious accessibility problem."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect, sync_playwright
from sqlalchemy import select
from sqlalchemy.orm import Session

from optihub.db.base import utcnow
from optihub.db.models import Event, Order, OrderStatusChange, WebhookDelivery, WebhookSubscription
from optihub.events.relay import relay_events
from tests.api.dashboard.test_order_page import MINUS, PASSWORD, STAFF, place_world
from tests.browser.staff import screenshot, serious_accessibility_problems, sign_in
from tests.browser.test_consent_in_chromium import ARGS, CHROMIUM


@pytest.fixture
def order_world(db, testdata, live_server):
    world = place_world(db, testdata)
    with db.transaction() as s:
        s.add(
            WebhookSubscription(
                practice_id=world.practice_id,
                surface="partner",
                url="https://pms.example/hooks/optihub",
                events=["*"],
                description="Acme PMS",
                secret_ciphertext="not-used",
            )
        )
        s.flush()
        relay_events(s, utcnow(), live_server.app.state.surfaces.webhook_renderers())
        for delivery in s.scalars(select(WebhookDelivery)):
            delivery.status, delivery.attempt_count = "delivered", 1
            delivery.last_response_code, delivery.delivered_at = 200, utcnow()
    return world


@pytest.mark.browser
def test_staff_read_the_rx_transposed_and_move_the_order_on_in_chromium(
    live_server, order_world, db
):
    url = f"{live_server.url}/dashboard/orders/{order_world.order_id}"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = chromium.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url)
            assert page.title().startswith("Sign in")
            sign_in(
                page,
                live_server.url,
                STAFF,
                PASSWORD,
                then=f"/dashboard/orders/{order_world.order_id}",
            )
            page.wait_for_url(url)
            expect(page.get_by_role("heading", level=1)).to_contain_text(
                f"Order {order_world.number}"
            )
            od = page.locator('table.order-rx tr[data-eye="OD"]')
            expect(od).to_contain_text(f"{MINUS}0.75 × 090")

            # Transposition: the same lens in plus-cylinder form, without a script.
            page.get_by_role("link", name="Plus cylinder").click()
            page.wait_for_url(url + "?cyl=plus#rx")
            expect(od).to_contain_text("+1.25")
            expect(od).to_contain_text("+0.75 × 180")
            expect(page.get_by_role("link", name="Plus cylinder")).to_have_attribute(
                "aria-current", "true"
            )
            expect(page.locator("figure svg")).to_have_count(1)

            # Moved on: back to the page (in the form chosen) with a flash, the move on top
            # of the history.
            page.get_by_role("button", name="Mark ready for pickup").click()
            page.wait_for_url(url + "?cyl=plus")
            expect(od).to_contain_text("+0.75 × 180")
            expect(page.get_by_role("status")).to_contain_text("is now Ready for pickup")
            expect(page.locator("#order-status")).to_have_text("Ready for pickup")
            first = page.locator("table.order-history tbody tr").first
            expect(first).to_contain_text("At the lab → Ready for pickup")
            expect(first).to_contain_text("Dashboard")
            expect(page.get_by_role("button", name="Mark delivered")).to_be_visible()

            screenshot(page, "order-page")
            assert serious_accessibility_problems(page) == []
        finally:
            chromium.close()

    with Session(db.engine) as s:
        order = s.get(Order, order_world.order_id)
        last = s.scalars(
            select(OrderStatusChange)
            .where(OrderStatusChange.order_id == order_world.order_id)
            .order_by(OrderStatusChange.id.desc())
        ).first()
        changes = s.scalars(select(Event).where(Event.type == "order.status_changed")).all()
    assert order is not None and order.status == "completed"
    assert last is not None and (last.to_status, last.via) == ("completed", "dashboard")
    # The world's own moves never reach "completed": this event is the page's (events carry
    # no order of their own; two recorded in one instant come back in either order).
    assert "completed" in {e.data["status"] for e in changes}
