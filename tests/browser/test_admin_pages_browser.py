"""The owner visits the apps, webhooks and settings pages in a real browser (Debian's
chromium, headless): each is drawn in the shell, photographed (var/screenshots/apps.png,
webhooks.png, settings.png) and has no serious or critical accessibility problem
(axe-core). On the apps page they register an app and see its secret once, with a copy
button; on the settings page they set a threshold out of range and see it refused."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect, sync_playwright
from sqlalchemy import select

from optihub.db.models import Event, Lab, LabAccount, User, WebhookAttempt, WebhookDelivery
from optihub.domain.orders import OrderStatus
from optihub.services import oauth_clients, oauth_tokens, status_names, webhooks
from optihub.services.context import Actor
from tests import factories
from tests.api.oauth.conftest import PASSWORD
from tests.browser.staff import screenshot, serious_accessibility_problems, sign_in
from tests.browser.test_consent_in_chromium import ARGS, CHROMIUM

SENT_AT = datetime(2026, 12, 4, 15, 30, tzinfo=UTC)


def _furnish(db, app, world) -> None:
    """A practice that has been working for a while: apps, subscriptions with deliveries,
    locations, a lab account and a portal status name."""
    with db.transaction() as s:
        factories.location(s, world.practice_id, "Harbor Street")
        factories.location(s, world.practice_id, "Seaport Mall")
        lab = Lab(name="Precision Optics", code="PRX")
        s.add(lab)
        s.flush()
        s.add(LabAccount(practice_id=world.practice_id, lab_id=lab.id, account_number="PX-2041"))
        status_names.set_status_mapping(
            s, world.practice_id, "Lab - glazing", OrderStatus.IN_PROGRESS
        )
        texts = oauth_clients.register_client(
            s,
            name="Pickup Texts",
            scope="openid read:orders",
            redirect_uris=["https://t.example/cb"],
        )
        owner_id = s.scalars(select(User.id).where(User.email == world.email)).one()
        oauth_tokens.record_consent(
            s,
            user_id=owner_id,
            client_id=texts.client.client_id,
            practice_id=world.practice_id,
            scope="openid read:orders",
        )
        for surface, url, events in (
            (
                "partner",
                "https://localhost/hooks/orders",
                ["order.created", "order.status_changed"],
            ),
            ("fulfillment", "https://localhost/blend/notify", ["*"]),
        ):
            subscription, _ = webhooks.create_subscription(
                s,
                Actor(practice_id=world.practice_id, via=surface, client_id=world.client_id),
                surface=surface,
                url=url,
                events=events,
                enabled=True,
                description=None,
                key=app.state.instance_key,
                allowed_hosts=["localhost"],
                event_types=events if events != ["*"] else ["order.created"],
            )
            for n, (status, code) in enumerate(
                (("delivered", 200), ("failed", 503), ("pending", None))
            ):
                event = Event(
                    id=f"evt_{uuid.uuid4().hex[:20]}",
                    practice_id=world.practice_id,
                    type="order.created",
                    data={},
                    created_at=SENT_AT + timedelta(hours=n),
                )
                s.add(event)
                s.flush()
                delivery = WebhookDelivery(
                    practice_id=world.practice_id,
                    subscription_id=subscription.id,
                    event_id=event.id,
                    event_code="order.created",
                    payload="{}",
                    status=status,
                    attempt_count=0 if code is None else 1,
                    last_response_code=code,
                    last_error=None if code in (None, 200) else f"HTTP {code}",
                    created_at=SENT_AT + timedelta(hours=n),
                    delivered_at=SENT_AT if status == "delivered" else None,
                )
                s.add(delivery)
                s.flush()
                if code is not None:
                    s.add(
                        WebhookAttempt(
                            practice_id=world.practice_id,
                            delivery_id=delivery.id,
                            attempted_at=SENT_AT + timedelta(hours=n),
                            response_code=code,
                            duration_ms=84,
                        )
                    )
            if surface == "fulfillment":
                subscription.enabled = False
                subscription.last_status = "disabled"
                subscription.consecutive_failures = 14
                subscription.disabled_at = SENT_AT + timedelta(hours=3)
                subscription.disabled_reason = (
                    "Disabled after failing for 24 hours (14 attempts in a row; last: HTTP 503)"
                )


@pytest.mark.browser
def test_apps_webhooks_and_settings_pages_in_chromium(live_server, world, db):
    _furnish(db, live_server.app, world)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = chromium.new_page(viewport={"width": 1280, "height": 900})
            sign_in(page, live_server.url, world.email, PASSWORD, then="/dashboard/apps")
            page.wait_for_url("**/dashboard/apps")

            # Apps: register one; its secret is shown once, with a copy button.
            page.get_by_label("Name", exact=True).fill("Front Desk Sync")
            page.get_by_label("Redirect URIs").fill("https://sync.example/cb")
            page.get_by_label("Read the practice's orders").check()
            page.get_by_label("Send Rx jobs to labs (draft or submit)").check()
            page.get_by_role("button", name="Register the app").click()
            page.wait_for_url("**/dashboard/apps")
            expect(
                page.get_by_role("heading", name="Front Desk Sync is registered")
            ).to_be_visible()
            expect(page.locator("#new-secret")).not_to_be_empty()
            expect(page.get_by_role("button", name="Copy secret")).to_be_visible()
            expect(page.get_by_role("heading", level=1)).to_have_text("Apps")
            screenshot(page, "apps")
            assert serious_accessibility_problems(page) == []
            page.reload()
            expect(page.locator("#new-secret")).to_have_count(0)

            # Webhooks: both dialects' subscriptions and their deliveries.
            page.get_by_role("navigation", name="Main").get_by_role("link", name="Webhooks").click()
            page.wait_for_url("**/dashboard/webhooks")
            expect(page.get_by_role("heading", name="Partner API")).to_be_visible()
            expect(page.get_by_role("heading", name="Fulfillment API")).to_be_visible()
            expect(page.get_by_role("button", name="Re-enable")).to_be_visible()
            screenshot(page, "webhooks")
            assert serious_accessibility_problems(page) == []

            # Settings: a threshold out of range is refused and kept as typed.
            page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
            page.wait_for_url("**/dashboard/settings")
            page.get_by_label("At the lab").fill("400")
            page.get_by_role("button", name="Save thresholds").click()
            expect(page.get_by_role("alert")).to_contain_text("Nothing was saved.")
            expect(page.get_by_label("At the lab")).to_have_value("400")
            assert serious_accessibility_problems(page) == []
            page.goto(f"{live_server.url}/dashboard/settings")
            expect(page.get_by_role("heading", name="Lab accounts 1")).to_be_visible()
            screenshot(page, "settings")
            assert serious_accessibility_problems(page) == []
        finally:
            chromium.close()
