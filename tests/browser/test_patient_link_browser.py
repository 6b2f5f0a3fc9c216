"""The patient's view in a real browser (Debian's chromium, headless).

A member of staff makes the patient's link on the order page and copies it; the patient,
in a browser of their own with no account, opens it, sees the order's progress, where to
pick it up and their prescription, and downloads the PDF; staff revoke the link and the
patient's next visit is the plain "no longer active" page; an expired link is the plain
"expired" page. Photographed under var/screenshots/ (patient-link*.png, order-page-patient-
view.png); axe-core finds nothing serious on any of them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from optihub.db.base import utcnow
from optihub.domain.orders import OrderStatus
from optihub.services import patient_links
from optihub.services.context import Actor
from tests.api.patient_view import world as w
from tests.browser.staff import screenshot, serious_accessibility_problems, sign_in
from tests.browser.test_consent_in_chromium import ARGS, CHROMIUM


def _clean(page: Page, name: str) -> None:
    screenshot(page, name)
    assert serious_accessibility_problems(page) == [], name


@pytest.mark.browser
def test_a_patient_opens_their_link_downloads_the_rx_and_a_revoked_link_is_gone(
    live_server, db, tmp_path
):
    world = w.build(db)
    order_url = f"{live_server.url}/dashboard/orders/{world.order_id}"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            staff = chromium.new_context(viewport={"width": 1280, "height": 900}).new_page()
            sign_in(
                staff,
                live_server.url,
                w.STAFF,
                w.PASSWORD,
                then=f"/dashboard/orders/{world.order_id}",
            )
            staff.wait_for_url(order_url)
            panel = staff.locator("#patient-view")
            panel.get_by_role("button", name="Create a link for the patient").click()
            staff.wait_for_url(order_url + "#patient-view")
            expect(staff.locator(".flash")).to_contain_text("ready to copy")
            address = staff.locator("#patient-link-address").inner_text().strip()
            assert address.startswith(f"{live_server.url}/p/")
            expect(panel.get_by_role("button", name="Copy link")).to_be_visible()
            staff.locator("#patient-view").scroll_into_view_if_needed()
            _clean(staff, "order-page-patient-view")

            # The patient: another browser, no cookie, no account; a phone-sized screen.
            patient_context = chromium.new_context(
                viewport={"width": 390, "height": 844}, accept_downloads=True
            )
            patient = patient_context.new_page()
            patient.goto(address)
            expect(patient.get_by_role("heading", level=1)).to_have_text("Jordan, your glasses")
            expect(patient.locator("#headline")).to_have_text(
                "Your order is being made at the lab."
            )
            steps = patient.locator("#progress li")
            expect(steps).to_have_count(4)
            expect(steps.nth(0)).to_contain_text("Ordered")
            expect(steps.nth(1)).to_contain_text("At the lab")
            expect(steps.nth(1)).to_have_attribute("aria-current", "step")
            expect(steps.nth(2)).to_contain_text("Ready for pickup")
            expect(patient.get_by_text("Mon\u2013Fri 9:00\u201317:30")).to_be_visible()
            rx = patient.locator("table.rx")
            expect(rx).to_contain_text(f"{w.MINUS}0.75 × 090")
            expect(rx).to_contain_text("1.00 Δ BI")
            _clean(patient, "patient-link")

            with patient.expect_download() as downloading:
                patient.get_by_role("link", name="Download your prescription (PDF)").click()
            download = downloading.value
            saved = tmp_path / "rx.pdf"
            download.save_as(saved)
            assert saved.read_bytes() == w.PDF
            assert download.suggested_filename == "prescription.pdf"

            # The order moves on: the patient's next visit shows it.
            w.move(db, world, OrderStatus.COMPLETED)
            patient.reload()
            expect(patient.locator("#headline")).to_have_text("Your order is ready for pickup.")
            expect(steps.nth(2)).to_have_attribute("aria-current", "step")
            _clean(patient, "patient-link-ready")

            # Staff revoke it: the patient's next visit is the plain page, nothing shown.
            staff.reload()
            staff.locator("#patient-view").get_by_role("button", name="Revoke link").click()
            staff.wait_for_url(order_url + "#patient-view")
            expect(staff.locator(".flash")).to_contain_text("revoked")
            answer = patient.goto(address)
            assert answer is not None and answer.status == 410
            expect(patient.get_by_role("heading", level=1)).to_have_text(
                "This link is no longer active"
            )
            expect(patient.locator("body")).not_to_contain_text("Harbor")
            expect(patient.locator("body")).not_to_contain_text("Jordan")
            _clean(patient, "patient-link-revoked")

            # An expired link: the same plain page, saying so.
            with db.transaction() as s:
                expired = patient_links.create_link(
                    s,
                    Actor(practice_id=world.practice_id, via="dashboard"),
                    world.order_id,
                    live_server.app.state.patient_link_key,
                    now=utcnow() - timedelta(days=31),
                )
            answer = patient.goto(f"{live_server.url}/p/{expired.token}")
            assert answer is not None and answer.status == 410
            expect(patient.get_by_role("heading", level=1)).to_have_text("This link has expired")
            _clean(patient, "patient-link-expired")
        finally:
            chromium.close()


@pytest.mark.browser
def test_the_owner_sets_up_the_practices_mail_server_in_chromium(live_server, db):
    w.build(db)
    settings_url = f"{live_server.url}/dashboard/settings"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = chromium.new_page(viewport={"width": 1280, "height": 900})
            sign_in(page, live_server.url, w.OWNER, w.PASSWORD, then="/dashboard/settings")
            page.wait_for_url(settings_url)
            section = page.locator("#mail")
            section.get_by_label("Server (host name)").fill("smtp.harbor.example")
            section.get_by_label("Port").fill("465")
            section.get_by_label("Encryption").select_option("tls")
            section.get_by_label("User name (optional)").fill("frontdesk")
            section.get_by_label("Password").fill("app-password-123")
            section.get_by_label("From address").fill("frontdesk@harbor.example")
            section.get_by_role("button", name="Save mail server").click()
            page.wait_for_url(settings_url + "#mail")
            expect(page.locator(".flash")).to_contain_text("The mail server is saved")
            expect(section).to_contain_text("smtp.harbor.example:465")
            expect(section).to_contain_text("password stored, encrypted")
            expect(
                section.get_by_label("Password (leave empty to keep the stored one)")
            ).to_have_value("")
            section.scroll_into_view_if_needed()
            _clean(page, "settings-patient-email")
        finally:
            chromium.close()
