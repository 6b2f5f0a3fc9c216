"""The stock pages: GET /dashboard/stock (filters, paging), POST /dashboard/stock/{frame}/
{location} (a quantity set in place) and GET/POST /dashboard/stock/import (CSV, all rows or
none). What a person sees on the page and what is stored: stock rows, ``inventory.updated``
events in the outbox, nothing at all when something is refused."""

from __future__ import annotations

import re
import uuid
from html import unescape

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from optihub.db.models import AuditEntry, Event, FrameStock
from optihub.reads import stock as stock_reads
from optihub.services import stock_import
from tests.api.dashboard import stock_world
from tests.api.dashboard.stock_world import MANAGER, OTHER, OWNER, PASSWORD, STAFF, StockWorld

STOCK = "/dashboard/stock"
IMPORT = "/dashboard/stock/import"


@pytest.fixture
def world(db) -> StockWorld:
    return stock_world.build(db)


# -- helpers --------------------------------------------------------------------------------


def sign_in(client, email: str) -> str:
    """Sign in; returns the session's CSRF token."""
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    response = client.post(
        "/login",
        data={"email": email, "password": PASSWORD, "csrf_token": csrf[1]},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    fresh = re.search(r'name="csrf_token" value="([^"]+)"', client.get(STOCK).text)
    assert fresh is not None  # signing in starts a new session with a new token
    return fresh[1]


def quantities(db, practice_id: int) -> dict[tuple[uuid.UUID, uuid.UUID], int]:
    with Session(db.engine) as s:
        rows = s.execute(
            select(FrameStock.frame_id, FrameStock.location_id, FrameStock.quantity).where(
                FrameStock.practice_id == practice_id
            )
        )
        return {(f, loc): q for f, loc, q in rows}


def inventory_events(db) -> list[dict]:
    with Session(db.engine) as s:
        events = s.scalars(
            select(Event).where(Event.type == "inventory.updated").order_by(Event.created_at)
        ).all()
        return [e.data | {"practice_id": e.practice_id} for e in events]


def count_events(db) -> int:
    with Session(db.engine) as s:
        return int(s.scalar(select(func.count()).select_from(Event)) or 0)


def text_of(html: str) -> str:
    """The page's words, as a person reads them (tags dropped, spaces collapsed)."""
    body = html.split("<main", 1)[1]
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", body)).split())


def rows_of(html: str) -> list[str]:
    """The text of each frame row of the stock table, top to bottom."""
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in html else ""
    rows = ["<tr" + r for r in body.split("<tr")[1:]]
    return [" ".join(unescape(re.sub(r"<[^>]+>", " ", r)).split()) for r in rows]


def field_value(html: str, field_id: str) -> str:
    found = re.search(rf'<input id="{re.escape(field_id)}"[^>]*value="([^"]*)"', html)
    assert found is not None, field_id
    return unescape(found[1])


def upload(client, csrf: str, content: bytes, name: str = "stock.csv"):
    return client.post(
        IMPORT,
        data={"csrf_token": csrf},
        files={"file": (name, content, "text/csv")},
        follow_redirects=False,
    )


def problem_rows(html: str) -> list[tuple[int, str, str]]:
    """(line, column, problem) of each row of the page's problems table."""
    table = html.split('class="import-problems"', 1)[1].split("</table>", 1)[0]
    found = []
    for row in table.split("<tbody>", 1)[1].split("<tr>")[1:]:
        cells = [
            " ".join(unescape(re.sub(r"<[^>]+>", " ", c)).split())
            for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        found.append((int(cells[0]), cells[1], cells[2]))
    return found


# -- who may see what -----------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(client, world, db):
    for path in (STOCK + "?low=1", IMPORT):
        page = client.get(path, follow_redirects=False)
        assert page.status_code == 303
        assert page.headers["location"].startswith("/login?next=%2Fdashboard%2Fstock")
    before = quantities(db, world.practice_id)
    edit = client.post(
        f"{STOCK}/{world.frames['LF-ANNA-49']}/{world.main}",
        data={"quantity": "3"},
        follow_redirects=False,
    )
    assert edit.status_code == 403  # no session, no CSRF token: refused before anything
    assert quantities(db, world.practice_id) == before


def test_the_list_shows_the_practice_frames_with_quantity_per_location(client, world):
    sign_in(client, STAFF)
    page = client.get(STOCK)
    assert page.status_code == 200
    words = text_of(page.text)
    assert "Stock · Harbor Optical" in page.text
    assert "All frames 4" in words
    rows = rows_of(page.text)
    # By brand, then SKU; size as opticians write it; a quantity per location and a total.
    assert [r.split(" SKU ")[0] for r in rows] == [
        "Lafont Anna",
        "Oakley OX8046 Airdrop",
        "Ray-Ban RB2140 Wayfarer",
        "Ray-Ban RB5154 Clubmaster",
    ]
    assert "Tortoise 51□21 140 805289000011" in rows[3]
    assert "Rose 49□17 140 —" in rows[0]
    # Harbor Point comes first (by name), then Main Street, then the total.
    clubmaster = world.frames["RB5154-2000-51"]
    assert field_value(page.text, f"q-{clubmaster}-{world.harbor}") == "3"
    assert field_value(page.text, f"q-{clubmaster}-{world.main}") == "5"
    assert rows[3].endswith("8")
    anna = world.frames["LF-ANNA-49"]
    assert field_value(page.text, f"q-{anna}-{world.main}") == "0"  # never stocked
    # Another practice's frames and locations are not there.
    assert "HV-SECRET-1" not in page.text and "Hilltop Mall" not in page.text
    assert "Hilltop Vision" not in page.text
    # Staff may set quantities but not import.
    assert f'action="{STOCK}/{clubmaster}/{world.main}"' in page.text
    assert f'href="{IMPORT}"' not in page.text


def test_the_location_filter_and_the_search(client, world):
    sign_in(client, STAFF)
    page = client.get(STOCK, params={"location": str(world.harbor)})
    assert page.status_code == 200
    assert "Frames at Harbor Point 4" in text_of(page.text)
    clubmaster = world.frames["RB5154-2000-51"]
    assert field_value(page.text, f"q-{clubmaster}-{world.harbor}") == "3"
    assert f"q-{clubmaster}-{world.main}" not in page.text  # only the chosen location

    found = client.get(STOCK, params={"q": "ray-ban black"})
    assert [r.split(" SKU ")[0] for r in rows_of(found.text)] == ["Ray-Ban RB2140 Wayfarer"]
    by_upc = client.get(STOCK, params={"q": "888392000035"})
    assert [r.split(" SKU ")[0] for r in rows_of(by_upc.text)] == ["Oakley OX8046 Airdrop"]
    by_sku = client.get(STOCK, params={"q": "lf-anna"})
    assert [r.split(" SKU ")[0] for r in rows_of(by_sku.text)] == ["Lafont Anna"]
    none = client.get(STOCK, params={"q": "Hilltop Only"})
    assert rows_of(none.text) == []
    assert "No frame matches these filters." in text_of(none.text)
    wildcard = client.get(STOCK, params={"q": "%"})
    assert rows_of(wildcard.text) == []

    foreign = client.get(STOCK, params={"location": str(world.other_location)})
    assert foreign.status_code == 400
    assert "Choose a location from the list." in text_of(foreign.text)
    assert "Hilltop Mall" not in foreign.text


def test_the_low_stock_filter(client, world):
    sign_in(client, STAFF)
    # All locations: the total at or below 2 (the default: frames have no reorder level).
    low = client.get(STOCK, params={"low": "1"})
    assert low.status_code == 200
    assert "Frames at or below 2 in all 2" in text_of(low.text)
    assert [r.split(" SKU ")[0] for r in rows_of(low.text)] == [
        "Lafont Anna",
        "Ray-Ban RB2140 Wayfarer",
    ]
    # One location: the quantity there (none stocked counts as 0).
    at_harbor = client.get(STOCK, params={"low": "1", "location": str(world.harbor)})
    assert [r.split(" SKU ")[0] for r in rows_of(at_harbor.text)] == [
        "Lafont Anna",
        "Oakley OX8046 Airdrop",
        "Ray-Ban RB2140 Wayfarer",
    ]
    # Another threshold.
    four = client.get(STOCK, params={"low": "1", "at_most": "4"})
    assert "Frames at or below 4 in all 3" in text_of(four.text)
    assert [r.split(" SKU ")[0] for r in rows_of(four.text)] == [
        "Lafont Anna",
        "Oakley OX8046 Airdrop",  # 4 at Main Street + 0 at Harbor Point: at or below 4
        "Ray-Ban RB2140 Wayfarer",
    ]
    # Low cells are marked with a word, not a colour alone.
    assert text_of(low.text).count(" Low ") >= 2
    bad = client.get(STOCK, params={"low": "1", "at_most": "lots"})
    assert bad.status_code == 400
    assert "“Low stock” needs a whole number from 0 to 999" in text_of(bad.text)


def test_pages_follow_each_other_with_the_filters_kept(client, world, monkeypatch):
    monkeypatch.setattr(stock_reads, "PAGE_SIZE", 2)
    sign_in(client, STAFF)
    first = client.get(STOCK)
    assert [r.split(" SKU ")[0] for r in rows_of(first.text)] == [
        "Lafont Anna",
        "Oakley OX8046 Airdrop",
    ]
    next_link = re.search(r'<a href="([^"]+)">Next page</a>', first.text)
    assert next_link is not None
    second = client.get(unescape(next_link[1]))
    assert [r.split(" SKU ")[0] for r in rows_of(second.text)] == [
        "Ray-Ban RB2140 Wayfarer",
        "Ray-Ban RB5154 Clubmaster",
    ]
    assert "Next page" not in second.text and "First page" in second.text

    low = client.get(STOCK, params={"low": "1", "at_most": "4"})
    link = re.search(r'<a href="([^"]+)">Next page</a>', low.text)
    assert link is not None and "low=1" in link[1] and "at_most=4" in link[1]
    rest = client.get(unescape(link[1]))
    assert [r.split(" SKU ")[0] for r in rows_of(rest.text)] == ["Ray-Ban RB2140 Wayfarer"]
    # A cursor that is not one starts at the first page.
    assert client.get(STOCK, params={"after": "not-a-cursor"}).status_code == 200


# -- setting a quantity ---------------------------------------------------------------------


def test_a_quantity_set_on_the_page_is_stored_and_sent_as_inventory_updated(client, world, db):
    csrf = sign_in(client, STAFF)
    wayfarer = world.frames["RB2140-901-50"]
    before = len(inventory_events(db))
    back = f"{STOCK}?low=1&q=ray"
    response = client.post(
        f"{STOCK}/{wayfarer}/{world.harbor}",
        data={"csrf_token": csrf, "quantity": " 7 ", "back": back},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"{STOCK}?q=ray&low=1#f-{wayfarer}"
    assert quantities(db, world.practice_id)[(wayfarer, world.harbor)] == 7
    events = inventory_events(db)[before:]
    assert len(events) == 1
    assert events[0]["sku"] == "RB2140-901-50" and events[0]["quantity"] == 8
    assert events[0]["practice_id"] == world.practice_id
    assert {s["location_id"]: s["quantity"] for s in events[0]["stock"]} == {
        str(world.main): 1,
        str(world.harbor): 7,
    }
    with Session(db.engine) as s:
        audit = s.scalars(
            select(AuditEntry).where(AuditEntry.target_id == str(wayfarer)).order_by(AuditEntry.id)
        ).all()
    assert audit[-1].action == "inventory.updated" and audit[-1].via == "dashboard"

    page = client.get(response.headers["location"])
    assert "Ray-Ban RB2140 Wayfarer (RB2140-901-50) at Harbor Point: 7 on hand." in page.text
    # The same number again changes nothing and sends nothing.
    again = client.post(
        f"{STOCK}/{wayfarer}/{world.harbor}",
        data={"csrf_token": csrf, "quantity": "7"},
        follow_redirects=False,
    )
    assert again.status_code == 303 and again.headers["location"] == f"{STOCK}#f-{wayfarer}"
    assert len(inventory_events(db)) == before + 1


def test_the_page_script_gets_the_answer_as_json(client, world, db):
    csrf = sign_in(client, STAFF)
    anna = world.frames["LF-ANNA-49"]
    path = f"{STOCK}/{anna}/{world.main}"
    saved = client.post(
        path, data={"csrf_token": csrf, "quantity": "3"}, headers={"Accept": "application/json"}
    )
    assert saved.status_code == 200
    assert saved.json() == {
        "quantity": 3,
        "total": 3,
        "message": "Lafont Anna (LF-ANNA-49) at Main Street: 3 on hand.",
    }
    refused = client.post(
        path, data={"csrf_token": csrf, "quantity": "-2"}, headers={"Accept": "application/json"}
    )
    assert refused.status_code == 400
    assert refused.json() == {
        "field": "quantity",
        "message": "The quantity cannot be negative.",
        "typed": "-2",
    }
    assert quantities(db, world.practice_id)[(anna, world.main)] == 3


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("-1", "The quantity cannot be negative."),
        ("lots", "“lots” is not a number."),
        ("2.5", "“2.5” is not a whole number of frames."),
        ("100000", "100,000 is more than 99,999: check the number."),
        ("805289000011", "805,289,000,011 is more than 99,999: check the number."),
        ("00012345678905", "“00012345678905” is more than 99,999: check the number."),
        ("", "Enter the quantity on hand (0 or more)."),
    ],
)
def test_a_bad_quantity_is_refused_with_what_was_typed_kept(client, world, db, typed, message):
    csrf = sign_in(client, STAFF)
    clubmaster = world.frames["RB5154-2000-51"]
    before, events = quantities(db, world.practice_id), count_events(db)
    response = client.post(
        f"{STOCK}/{clubmaster}/{world.main}",
        data={"csrf_token": csrf, "quantity": typed, "back": f"{STOCK}?q=ray"},
        follow_redirects=False,
    )
    assert response.status_code == 400
    field_id = f"q-{clubmaster}-{world.main}"
    assert field_value(response.text, field_id) == typed
    assert re.search(rf'id="{field_id}"[^>]*aria-invalid="true"', response.text)
    assert f'<span class="error" id="{field_id}-error">{message}</span>' in unescape(response.text)
    assert f"The quantity was not saved: {message} Nothing was changed." in text_of(response.text)
    # The list it came from (its search kept), nothing written.
    assert "Oakley" not in response.text and 'value="ray"' in response.text
    assert quantities(db, world.practice_id) == before
    assert count_events(db) == events


def test_another_practice_frame_or_location_is_not_found(client, world, db):
    csrf = sign_in(client, STAFF)
    before_theirs = quantities(db, world.other_practice_id)
    before_ours = quantities(db, world.practice_id)
    own_frame = world.frames["LF-ANNA-49"]
    for frame_id, location_id in (
        (world.other_frame, world.other_location),
        (world.other_frame, world.main),
        (own_frame, world.other_location),
        (uuid.uuid4(), world.main),
        ("not-a-frame", world.main),
    ):
        response = client.post(
            f"{STOCK}/{frame_id}/{location_id}",
            data={"csrf_token": csrf, "quantity": "1"},
            follow_redirects=False,
        )
        assert response.status_code == 404
        assert "There is no such frame or location in this practice." in response.text
    assert quantities(db, world.other_practice_id) == before_theirs
    assert quantities(db, world.practice_id) == before_ours
    # Without the session's CSRF token nothing is done either.
    forged = client.post(
        f"{STOCK}/{own_frame}/{world.main}", data={"csrf_token": "forged", "quantity": "4"}
    )
    assert forged.status_code == 403
    assert quantities(db, world.practice_id) == before_ours


def test_a_back_address_elsewhere_is_not_followed(client, world):
    csrf = sign_in(client, STAFF)
    anna = world.frames["LF-ANNA-49"]
    response = client.post(
        f"{STOCK}/{anna}/{world.main}",
        data={"csrf_token": csrf, "quantity": "2", "back": "https://evil.example/dashboard/stock"},
        follow_redirects=False,
    )
    assert response.headers["location"] == f"{STOCK}#f-{anna}"


# -- importing a CSV file -------------------------------------------------------------------


def test_a_good_file_is_applied_whole_with_the_partner_api_events(client, world, db):
    csrf = sign_in(client, MANAGER)
    form = client.get(IMPORT)
    assert form.status_code == 200
    words = text_of(form.text)
    assert "sku or upc" in words and "location" in words and "quantity" in words
    before = len(inventory_events(db))
    content = (
        "\ufeffSKU;Location;Qty;Notes\r\n"  # a spreadsheet's BOM, semicolons, an extra column
        "RB5154-2000-51;Main Street;6;recount\r\n"
        "RB5154-2000-51;hp-2;3;\r\n"
        "\r\n"
        "OX8046-0152;HP-2;2;\r\n"
        "LF-ANNA-49;  main street ;12;\r\n"
    ).encode()
    # "hp-2" is neither a name nor the external id (which is case-sensitive): refused first.
    refused = upload(client, csrf, content)
    assert refused.status_code == 400
    assert problem_rows(refused.text) == [
        (3, "location", "No location named or with external id “hp-2”.")
    ]
    assert len(inventory_events(db)) == before

    content = content.replace(b";hp-2;", b";Harbor Point;")
    response = upload(client, csrf, content)
    assert response.status_code == 200, text_of(response.text)
    words = text_of(response.text)
    assert "Stock updated from stock.csv" in words
    assert "Rows applied 4" in words and "Frames changed 3" in words
    assert "Quantities changed 3 (1 already matched the stock)" in words
    stored = quantities(db, world.practice_id)
    clubmaster, oakley = world.frames["RB5154-2000-51"], world.frames["OX8046-0152"]
    anna = world.frames["LF-ANNA-49"]
    assert stored[(clubmaster, world.main)] == 6 and stored[(clubmaster, world.harbor)] == 3
    assert stored[(oakley, world.harbor)] == 2 and stored[(anna, world.main)] == 12
    events = inventory_events(db)[before:]
    assert sorted((e["sku"], e["quantity"]) for e in events) == [
        ("LF-ANNA-49", 12),
        ("OX8046-0152", 6),
        ("RB5154-2000-51", 9),
    ]
    with Session(db.engine) as s:
        imported = s.scalars(select(AuditEntry).where(AuditEntry.action == "stock.imported")).one()
    assert imported.details == {"rows": 4, "frames_changed": 3} and imported.via == "dashboard"


def test_a_file_without_a_header_and_one_by_upc(client, world, db):
    csrf = sign_in(client, OWNER)
    plain = upload(client, csrf, b"RB2140-901-50,MS-1,0\nLF-ANNA-49,Harbor Point,1\n")
    assert plain.status_code == 200, text_of(plain.text)
    assert "Rows applied 2" in text_of(plain.text)
    by_upc = upload(client, csrf, b"upc,location,on hand\n888392000035,Main Street,9\n")
    assert by_upc.status_code == 200, text_of(by_upc.text)
    stored = quantities(db, world.practice_id)
    assert stored[(world.frames["RB2140-901-50"], world.main)] == 0
    assert stored[(world.frames["LF-ANNA-49"], world.harbor)] == 1
    assert stored[(world.frames["OX8046-0152"], world.main)] == 9


def test_a_file_with_bad_rows_changes_nothing_and_lists_every_one(client, world, db):
    csrf = sign_in(client, MANAGER)
    before, events = quantities(db, world.practice_id), count_events(db)
    content = (
        b"sku,upc,location,quantity\n"
        b"RB5154-2000-51,,Main Street,10\n"  # 2: good
        b"NO-SUCH-SKU,,Main Street,1\n"  # 3
        b"OX8046-0152,,Nowhere,2\n"  # 4
        b"LF-ANNA-49,,Main Street,-3\n"  # 5
        b"RB2140-901-50,,Main Street,three\n"  # 6
        b",,Main Street,1\n"  # 7
        b",8.05289E+11,Main Street,1\n"  # 8
        b"HV-SECRET-1,,Hilltop Mall,4\n"  # 9: another practice's frame and location
        b"RB5154-2000-51,,main street,11\n"  # 10: the same frame and location as line 2
        b"RB2140-901-50,888392000035,Main Street,1\n"  # 11: UPC of another frame
        b'"OX8046-0152",,"Harbor Point","1000000"\n'  # 12
        b"LF-ANNA-49,,Harbor Point,4\n"  # 13: good
    )
    response = upload(client, csrf, content)
    assert response.status_code == 400
    words = text_of(response.text)
    assert "The file was not imported" in words
    assert "10 of 12 rows have problems: nothing was changed." in words
    assert "10 rows to correct in stock.csv" in words
    assert problem_rows(response.text) == [
        (3, "sku", "No frame with SKU “NO-SUCH-SKU” in this practice."),
        (4, "location", "No location named or with external id “Nowhere”."),
        (5, "quantity", "The quantity cannot be negative."),
        (6, "quantity", "“three” is not a number."),
        (7, "sku", "Give the frame's SKU or UPC."),
        (
            8,
            "upc",
            "“8.05289E+11” is a UPC the spreadsheet turned into a number. Format the UPC "
            "column as text and export again.",
        ),
        (9, "sku", "No frame with SKU “HV-SECRET-1” in this practice."),
        (9, "location", "No location named or with external id “Hilltop Mall”."),
        (10, "sku", "The same frame and location are already on line 2."),
        (11, "upc", "“888392000035” is not the UPC of SKU RB2140-901-50 (that is 805289000028)."),
        (12, "quantity", "1,000,000 is more than 99,999: check the number."),
    ]
    assert quantities(db, world.practice_id) == before
    assert count_events(db) == events
    assert quantities(db, world.other_practice_id)[(world.other_frame, world.other_location)] == 9


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty."),
        (b"sku,location,quantity\n", "The file has no rows to import."),
        (
            b"PK\x03\x04\x14\x00\x06\x00",
            "This is a spreadsheet workbook (such as .xlsx), not a CSV file.",
        ),
        (b"sku,location,quantity\nA\x00B,Main Street,1\n", "The file contains binary data"),
        (
            "sku,location,quantity\nRB5154-2000-51,Caf\u00e9,1\n".encode("latin-1"),
            "Line 2 is not UTF-8 text (byte 0xE9).",
        ),
        ("sku,location\n".encode("utf-16"), "The file is saved as UTF-16"),
        (b"sku,colour\nRB5154-2000-51,Black\n", "The header row has no location and no quantity"),
        (b"sku,quantity,qty\n", "The header row names the quantity column twice"),
        (
            b"sku,location,quantity\nRB5154-2000-51,Main Street,1\n" + b"A" * 200_000 + b",x,1\n",
            "Line 3: the file is not valid CSV (field larger than field limit",
        ),
        (b"sku,location,quantity\nRB\x1b[2J,Main Street,1\n", "Line 2 holds a control character"),
    ],
    ids=[
        "empty",
        "header-only",
        "xlsx",
        "nul",
        "latin-1",
        "utf-16",
        "no-columns",
        "twice",
        "huge-field",
        "control",
    ],
)
def test_a_file_that_is_not_usable_csv_is_refused_whole(client, world, db, content, message):
    csrf = sign_in(client, MANAGER)
    before, events = quantities(db, world.practice_id), count_events(db)
    response = upload(client, csrf, content)
    assert response.status_code == 400
    assert "The file was refused" in text_of(response.text)
    assert message in text_of(response.text)
    assert quantities(db, world.practice_id) == before and count_events(db) == events


def test_no_file_chosen(client, world):
    csrf = sign_in(client, MANAGER)
    response = client.post(IMPORT, data={"csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 400
    assert "Choose a CSV file to import." in text_of(response.text)


def test_the_size_and_row_limits(client, world, db, monkeypatch):
    csrf = sign_in(client, MANAGER)
    before = quantities(db, world.practice_id)
    line = b"RB5154-2000-51,Main Street,1\n"
    big = b"sku,location,quantity\n" + line * (stock_import.MAX_BYTES // len(line) + 10)
    response = upload(client, csrf, big)
    assert response.status_code == 413
    assert "The file is larger than 5 MB, the most one import takes." in text_of(response.text)
    assert quantities(db, world.practice_id) == before

    # A body sent without its length declared is read no further than the limit either.
    def chunks():
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="s.csv"\r\n\r\n'
        for _ in range(6):
            yield b"x" * (1024 * 1024)

    streamed = client.post(
        IMPORT, content=chunks(), headers={"Content-Type": "multipart/form-data; boundary=b"}
    )
    assert streamed.status_code == 413
    assert "The file is larger than 5 MB" in text_of(streamed.text)

    monkeypatch.setattr(stock_import, "MAX_ROWS", 3)
    rows = b"".join(f"LF-ANNA-49,Main Street,{n}\n".encode() for n in range(4))
    response = upload(client, csrf, rows)
    assert response.status_code == 400
    assert "The file has more than 3 rows; the most one import takes is 3." in text_of(
        response.text
    )
    assert quantities(db, world.practice_id) == before


def test_staff_may_not_import(client, world, db):
    csrf = sign_in(client, STAFF)
    page = client.get(IMPORT)
    assert page.status_code == 403
    assert "Your role in this practice does not allow this." in page.text
    assert 'name="file"' not in page.text
    before = quantities(db, world.practice_id)
    response = upload(client, csrf, b"LF-ANNA-49,Main Street,5\n")
    assert response.status_code == 403
    assert "Your role in this practice does not allow this." in response.text
    too_big = upload(client, csrf, b"x" * (stock_import.MAX_BYTES + 1))
    assert too_big.status_code == 403  # the role is answered first, whatever the file
    assert quantities(db, world.practice_id) == before


def test_an_import_never_reaches_another_practice(client, world, db):
    csrf = sign_in(client, OTHER)  # Hilltop's owner
    before = quantities(db, world.practice_id)
    response = upload(client, csrf, b"RB5154-2000-51,Hilltop Mall,5\n")
    assert response.status_code == 400
    assert problem_rows(response.text) == [
        (1, "sku", "No frame with SKU “RB5154-2000-51” in this practice.")
    ]
    # Hilltop has one location: the column may be left out.
    mine = upload(client, csrf, b"sku,quantity\nHV-SECRET-1,2\n")
    assert mine.status_code == 200, text_of(mine.text)
    assert quantities(db, world.other_practice_id)[(world.other_frame, world.other_location)] == 2
    assert quantities(db, world.practice_id) == before
    page = client.get(STOCK)
    assert "HV-SECRET-1" in page.text and "RB5154" not in page.text
