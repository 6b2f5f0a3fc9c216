"""A manager keeps the stock in a real browser (Debian's chromium, headless): signs in,
lists the frames low on stock, corrects a count in place (a slip refused in its cell first),
then imports a count sheet: one with mistakes, refused whole and listed line by line, then
the corrected one. Without scripts the same quantity form still works as a plain post."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, Route, expect, sync_playwright
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from optihub.db.models import Event, FrameStock
from tests.api.dashboard import stock_world
from tests.api.dashboard.stock_world import MANAGER, PASSWORD, STAFF, StockWorld
from tests.browser.staff import screenshot, serious_accessibility_problems, sign_in
from tests.browser.test_consent_in_chromium import ARGS, CHROMIUM

BAD_SHEET = (
    b"sku,location,quantity\n"
    b"RB5154-2000-51,Main Street,6\n"
    b"RB5154-2000-51,Harbour Point,2\n"
    b"NO-SUCH-SKU,Main Street,1\n"
    b"OX8046-0152,Harbor Point,two\n"
)
GOOD_SHEET = (
    b"sku,location,quantity\n"
    b"RB5154-2000-51,Main Street,6\n"
    b"RB5154-2000-51,Harbor Point,2\n"
    b"OX8046-0152,Harbor Point,2\n"
)


@pytest.fixture
def stock(db) -> StockWorld:
    return stock_world.build(db)


def _quantity(db, frame_id: uuid.UUID, location_id: uuid.UUID) -> int:
    with Session(db.engine) as s:
        found = s.scalar(
            select(FrameStock.quantity).where(
                FrameStock.frame_id == frame_id, FrameStock.location_id == location_id
            )
        )
    return found or 0


def _inventory_events(db) -> int:
    with Session(db.engine) as s:
        counted = s.scalar(
            select(func.count()).select_from(Event).where(Event.type == "inventory.updated")
        )
    return int(counted or 0)


def _frames_listed(page: Page) -> list[str]:
    return [t.strip() for t in page.locator("table.stock .frame-name").all_inner_texts()]


@pytest.mark.browser
def test_a_manager_counts_and_imports_stock_in_chromium(live_server, stock, db):
    wayfarer = stock.frames["RB2140-901-50"]
    clubmaster = stock.frames["RB5154-2000-51"]
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = chromium.new_page(viewport={"width": 1280, "height": 800})
            refused: list[str] = []  # what the browser refused (the pages' policy) or failed on
            page.on("pageerror", lambda error: refused.append(f"page error: {error}"))
            page.on(
                "console",
                lambda message: (
                    refused.append(message.text)
                    if "Content Security Policy" in message.text
                    else None
                ),
            )
            sign_in(page, live_server.url, MANAGER, PASSWORD, then="/dashboard/stock")
            page.wait_for_url(f"{live_server.url}/dashboard/stock")
            expect(page.get_by_role("heading", level=1)).to_have_text("Stock")
            assert len(_frames_listed(page)) == 4

            # Low stock only: the frames with 2 or fewer over both locations.
            page.get_by_label("Only at or below").check()
            page.get_by_role("button", name="Find").click()
            page.wait_for_url(re.compile(r".*low=1.*"))
            assert _frames_listed(page) == ["Lafont Anna", "Ray-Ban RB2140 Wayfarer"]
            expect(page.get_by_role("heading", level=2)).to_contain_text(
                "Frames at or below 2 in all"
            )

            # A slip of the finger is refused in its cell; the count is then corrected.
            events = _inventory_events(db)
            cell = page.get_by_label(
                "Ray-Ban RB2140 Wayfarer RB2140-901-50 at Main Street: quantity on hand"
            )
            cell.fill("-4")
            cell.press("Enter")
            error = page.locator(f'[id="q-{wayfarer}-{stock.main}-error"]')
            expect(error).to_have_text("The quantity cannot be negative.")
            expect(cell).to_have_attribute("aria-invalid", "true")
            expect(cell).to_have_value("-4")
            assert _quantity(db, wayfarer, stock.main) == 1
            assert serious_accessibility_problems(page) == []
            cell.fill("9")
            cell.press("Enter")
            expect(page.get_by_role("status").last).to_have_text(
                "Ray-Ban RB2140 Wayfarer (RB2140-901-50) at Main Street: 9 on hand."
            )
            expect(error).to_have_count(0)
            expect(page.locator(f"#f-{wayfarer} [data-total]")).to_have_text("9")
            assert _quantity(db, wayfarer, stock.main) == 9
            assert _inventory_events(db) == events + 1

            page.goto(f"{live_server.url}/dashboard/stock")
            assert serious_accessibility_problems(page) == []
            screenshot(page, "stock")

            # The import: a sheet with mistakes changes nothing and lists each one.
            page.get_by_role("link", name="Import stock counts (CSV)").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Import stock counts")
            assert serious_accessibility_problems(page) == []
            # A file over the limit is refused before it is sent.
            page.get_by_label("CSV file").set_input_files(
                {"name": "everything.csv", "mimeType": "text/csv", "buffer": b"x" * (5 << 20 | 1)}
            )
            page.get_by_role("button", name="Import").click()
            expect(page.locator("#file-error")).to_have_text(
                "The file is larger than 5 MB, the most one import takes. "
                "Split it into smaller files."
            )
            expect(page.get_by_label("CSV file")).to_have_attribute("aria-invalid", "true")
            events = _inventory_events(db)
            page.get_by_label("CSV file").set_input_files(
                {"name": "count-december.csv", "mimeType": "text/csv", "buffer": BAD_SHEET}
            )
            page.get_by_role("button", name="Import").click()
            alert = page.get_by_role("alert")
            expect(alert).to_contain_text("3 of 4 rows have problems: nothing was changed.")
            problems = page.locator("table.import-problems tbody tr")
            expect(problems).to_have_count(3)
            assert [" ".join(t.split()) for t in problems.all_inner_texts()] == [
                "3 location No location named or with external id “Harbour Point”.",
                "4 sku No frame with SKU “NO-SUCH-SKU” in this practice.",
                "5 quantity “two” is not a number.",
            ]
            assert _quantity(db, clubmaster, stock.main) == 5
            assert _inventory_events(db) == events
            assert serious_accessibility_problems(page) == []
            screenshot(page, "stock-import-errors")

            # Corrected, it is applied whole.
            page.get_by_label("CSV file").set_input_files(
                {"name": "count-december.csv", "mimeType": "text/csv", "buffer": GOOD_SHEET}
            )
            # The answer is held back a moment to see the progress shown meanwhile.
            held: list[Route] = []

            def hold(route: Route) -> None:
                held.append(route)

            page.route("**/dashboard/stock/import", hold)
            page.get_by_role("button", name="Import").click()
            progress = page.locator("#import-progress")
            expect(progress).to_be_visible()
            expect(progress.locator("progress")).to_be_visible()
            expect(page.get_by_role("button", name="Import")).to_be_disabled()
            assert len(held) == 1 and held[0].request.method == "POST"
            screenshot(page, "stock-import-progress")
            held[0].continue_()
            result = page.locator("#import-result")
            expect(result).to_contain_text("Stock updated from count-december.csv")
            expect(result).to_contain_text(re.compile(r"Rows applied\s*3"))
            expect(result).to_contain_text(re.compile(r"Quantities changed\s*3"))
            expect(result).to_contain_text(re.compile(r"Frames changed\s*2"))
            screenshot(page, "stock-import-done")
            assert _quantity(db, clubmaster, stock.main) == 6
            assert _quantity(db, clubmaster, stock.harbor) == 2
            assert _quantity(db, stock.frames["OX8046-0152"], stock.harbor) == 2
            assert _inventory_events(db) == events + 2
            assert refused == []
        finally:
            chromium.close()


@pytest.mark.browser
def test_without_scripts_a_quantity_is_a_plain_form_post(live_server, stock, db):
    anna = stock.frames["LF-ANNA-49"]
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = chromium.new_context(java_script_enabled=False).new_page()
            sign_in(page, live_server.url, STAFF, PASSWORD, then="/dashboard/stock?q=anna")
            cell = page.get_by_label("Lafont Anna LF-ANNA-49 at Harbor Point: quantity on hand")
            cell.fill("many")
            page.get_by_role("button", name="Save LF-ANNA-49 at Harbor Point").click()
            expect(page.locator(f'[id="q-{anna}-{stock.harbor}-error"]')).to_have_text(
                "“many” is not a number."
            )
            assert _quantity(db, anna, stock.harbor) == 0
            screenshot(page, "stock-edit-refused")  # (axe-core needs scripts: checked above)
            page.get_by_label("Lafont Anna LF-ANNA-49 at Harbor Point: quantity on hand").fill("3")
            page.get_by_role("button", name="Save LF-ANNA-49 at Harbor Point").click()
            page.wait_for_url(re.compile(r".*/dashboard/stock\?q=anna#f-.*"))
            expect(page.get_by_role("status").first).to_have_text(
                "Lafont Anna (LF-ANNA-49) at Harbor Point: 3 on hand."
            )
            assert _quantity(db, anna, stock.harbor) == 3
            # Staff see no import link, and the import page says why.
            expect(page.get_by_role("link", name="Import stock counts (CSV)")).to_have_count(0)
            page.goto(f"{live_server.url}/dashboard/stock/import")
            expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
        finally:
            chromium.close()
