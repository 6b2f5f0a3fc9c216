"""A member of staff reviews a draft lab order in a real browser (Debian's chromium,
headless): the order-entry tool saved it as a draft without a lens (the draft rules allow
it, the submit rules do not); they open the link the API returned, sign in, choose the
lens (the materials, colours and coats follow the lab and style chosen, without a save),
mistype the axis and leave the first name blank, see both problems at once, labelled as
the form labels them, correct them and submit. The partner API then shows the order as
pending, and the status change is in the outbox."""

from __future__ import annotations

import uuid

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright
from sqlalchemy import select
from sqlalchemy.orm import Session

from optihub.db.models import Event, Order
from tests.api.labs import conftest as labs
from tests.api.labs.conftest import LAB_SCOPES, STAFF
from tests.api.labs.test_orders import DELETE, valid_body
from tests.browser.staff import screenshot, serious_accessibility_problems
from tests.browser.test_consent_in_chromium import ARGS, CHROMIUM

lab_world = labs.lab_world  # a practice with staff, labs, accounts and a catalog
PASSWORD = "harbor-password-1"


def _token(live_server, lab_world, scope: str) -> str:
    return live_server.app.state.tokens.issue_access_token(
        client_id=lab_world.client_id,
        subject="order-entry-tool",
        scope=scope,
        practice_ids=[lab_world.practice_id],
    ).token


@pytest.mark.browser
def test_staff_correct_the_axis_and_submit_a_draft_in_chromium(live_server, lab_world, db):
    token = _token(live_server, lab_world, LAB_SCOPES)
    with httpx.Client(base_url=live_server.url, timeout=10) as api:
        created = api.post(
            "/v1/orders",
            json=valid_body(lab_world, mode="draft", lens=DELETE),
            headers={"Authorization": f"Bearer {token}", "User-Email": STAFF},
        )
    assert created.status_code == 200, created.text
    url = created.json()["url"]
    order_id = uuid.UUID(hex=created.json()["id"][4:])
    assert url == f"{live_server.url}/dashboard/drafts/{order_id}"

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = chromium.new_page()
            page.goto(url)
            assert page.title().startswith("Sign in")
            page.get_by_label("Email").fill(STAFF)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(url)
            expect(page.get_by_role("heading", level=1)).to_have_text(
                f"Draft {_number(db, order_id)}"
            )
            axis = page.get_by_label("Right eye (OD) axis")
            assert axis.input_value() == "90"
            expect(page.locator("figure svg")).to_have_count(0)  # no tracing sent
            assert page.locator("#f-order_type option:checked").inner_text() == (
                "Rx (prescription lenses)"
            )

            # Choosing the lens: each choice narrows the next, with no save in between.
            style = page.locator('select[name="lens.style"]')
            material = page.locator('select[name="lens.material"]')
            color = page.locator('select[name="lens.color"]')
            coats = page.locator('[id="f-lens.coats"] label')
            expect(material.locator("option")).to_have_text(
                ["— none —", "CR-39 Plastic", "Polycarbonate"]
            )
            style.select_option(label="Comfort Progressive")
            expect(material.locator("option")).to_have_text(["— none —", "Polycarbonate"])
            # Another lab offers its own styles; back to the first.
            lab_account = page.get_by_label("Lab and account")
            lab_account.select_option(label="Coastal Lens Works · C-9")
            expect(style.locator("option")).to_contain_text(["Coastal SV"])
            expect(page.locator("#lab-name")).to_have_text("Coastal Lens Works")
            lab_account.select_option(label="Precision Optical Lab · PX-1")
            expect(style.locator("option")).to_have_text(
                ["— none —", "Comfort Progressive", "Essential Single Vision"]
            )
            style.select_option(label="Essential Single Vision")
            expect(material.locator("option")).to_have_text(
                ["— none —", "CR-39 Plastic", "Polycarbonate"]
            )
            expect(color.locator("option")).to_have_text(["— none —"])
            material.select_option(label="Polycarbonate")
            expect(color.locator("option")).to_have_text(["— none —", "Clear"])
            expect(coats).to_have_text(["Basic AR", "Blue Filter", "Silver Mirror"])
            expect(page.get_by_role("status")).to_contain_text("Precision Optical Lab offers")
            color.select_option(label="Clear")
            page.get_by_label("Blue Filter").check()
            screenshot(page, "draft-review")
            assert serious_accessibility_problems(page) == []

            # Two slips: the axis out of range and the first name wiped. Both at once.
            axis.fill("181")
            page.get_by_label("First name").fill("")
            page.get_by_role("button", name="Save draft").click()
            problems = page.get_by_role("alert")
            expect(problems).to_contain_text("2 problems: nothing was saved")
            expect(problems.get_by_role("listitem")).to_have_text(
                [
                    "First name is required.",
                    "Right eye (OD) axis: Axis must be a whole number from 1 to 180°.",
                ]
            )
            axis_error = page.locator('[id="e-rx.right_eye.axis"]')
            expect(axis_error).to_contain_text("Axis must be")
            expect(axis).to_have_attribute("aria-invalid", "true")
            # What was chosen and typed is still there.
            expect(axis).to_have_value("181")
            expect(style.locator("option:checked")).to_have_text("Essential Single Vision")
            expect(color.locator("option:checked")).to_have_text("Clear")
            expect(page.get_by_label("Blue Filter")).to_be_checked()
            screenshot(page, "draft-review-problems")
            assert serious_accessibility_problems(page) == []
            assert _order(db, order_id).rx_snapshot["right"]["axis"] == 90

            # Corrected and submitted.
            axis.fill("95")
            page.get_by_label("First name").fill("Ada")
            page.get_by_role("button", name="Submit to lab").click()
            page.wait_for_url(f"{live_server.url}/dashboard/orders/{order_id}")
            expect(page.get_by_role("status")).to_contain_text("was submitted to the lab")
            expect(page.locator("h1")).to_contain_text("Order ")
            expect(page.get_by_role("link", name="Orders", exact=True)).to_have_attribute(
                "aria-current", "page"
            )
        finally:
            chromium.close()

    order = _order(db, order_id)
    assert order.status == "received" and order.rx_snapshot["right"]["axis"] == 95
    assert order.lens is not None and order.lens["color"] == "Clear"
    assert order.lens["coats"] == ["Blue Filter"]
    with httpx.Client(base_url=live_server.url, timeout=10) as partner:
        shown = partner.get(
            f"/api/v1/partner/orders/{order_id}",
            headers={"Authorization": f"Bearer {_token(live_server, lab_world, 'orders:read')}"},
        )
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert body["status"] == "pending"
    assert body["prescription"]["right"]["axis"] == 95
    assert STAFF.lower() in body["status_history"][-1]["by"]
    with Session(db.engine) as s:
        changes = s.scalars(select(Event).where(Event.type == "order.status_changed")).all()
    assert [(e.data["id"], e.data["previous_status"], e.data["status"]) for e in changes] == [
        (str(order_id), "draft", "received")
    ]


def _order(db, order_id: uuid.UUID) -> Order:
    with Session(db.engine) as s:
        order = s.get(Order, order_id)
    assert order is not None
    return order


def _number(db, order_id: uuid.UUID) -> str:
    return _order(db, order_id).number
