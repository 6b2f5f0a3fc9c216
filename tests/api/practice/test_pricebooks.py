"""GET /v2/{client_id}/pricebooks/{kind} (one route and scope per kind), POST/PATCH
/pricebooks/frames (bulk all-or-nothing), /configurations/pricetiers (CRUD): through
``reads.pricebooks`` and ``services.pricebooks``."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from sqlalchemy import select

from optihub.db.models import Frame, PricebookItem, PriceTier
from optihub.services import pricebooks
from tests import factories
from tests.api.practice.conftest import count, error


@pytest.fixture
def priced(db, world):
    with db.transaction() as s:
        actor = factories.actor(world.practice_id)
        plain = factories.frame(s, world.practice_id, sku="RB-1", brand="Ray-Ban", model="RB2140")
        oakley = factories.frame(
            s,
            world.practice_id,
            sku="OX-1",
            brand="Oakley",
            model="Holbrook",
            price=Decimal("210.00"),
        )
        items = {}
        for kind, code, name, price in [
            ("lenses", "SV-CR39", "Single vision CR-39", "89.00"),
            ("contactlenses", "CL-AO6", "Acuvue Oasys 6pk", "62.00"),
            ("contactlenses", "CL-B6", "Biofinity 6pk", "58.00"),
            ("proffees", "EXAM", "Comprehensive eye exam", "150.00"),
            ("merchandise", "KIT", "Lens cleaning kit", "14.99"),
            ("addons", "AF", "Anti-fog coating", "9.99"),
            ("misc", "RUSH", "Rush lab service", "35.00"),
        ]:
            items[code] = str(
                pricebooks.create_item(
                    s,
                    actor,
                    kind,
                    pricebooks.PricebookItemDetails(
                        code=code, name=name, retail_price=Decimal(price), cost=Decimal("1.50")
                    ),
                ).id
            )
        retail = pricebooks.create_price_tier(
            s, actor, pricebooks.PriceTierDetails("Retail", is_default=True)
        )
        vsp = pricebooks.create_price_tier(
            s, actor, pricebooks.PriceTierDetails("Insurance VSP", "Vision plan", Decimal("20"))
        )
        other = factories.actor(world.other_practice_id)
        foreign_frame = factories.frame(s, world.other_practice_id, sku="ZZ-1")
        pricebooks.create_item(
            s,
            other,
            "contactlenses",
            pricebooks.PricebookItemDetails("CL-XX", "Foreign lens", Decimal("1")),
        )
        foreign_tier = pricebooks.create_price_tier(
            s, other, pricebooks.PriceTierDetails("Foreign tier")
        )
    return {
        "plain": str(plain.id),
        "oakley": str(oakley.id),
        "items": items,
        "retail": str(retail.id),
        "vsp": str(vsp.id),
        "foreign_frame": str(foreign_frame.id),
        "foreign_tier": str(foreign_tier.id),
    }


def listed(api, path, **params):
    response = api.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    ("kind", "codes"),
    [
        ("lenses", ["SV-CR39"]),
        ("contactlenses", ["CL-AO6", "CL-B6"]),
        ("proffees", ["EXAM"]),
        ("merchandise", ["KIT"]),
        ("addons", ["AF"]),
        ("misc", ["RUSH"]),
        ("frames", ["OX-1", "RB-1"]),
        ("tierprices", ["Insurance VSP", "Retail"]),
    ],
)
def test_each_pricebook_lists_its_own_kind(api, priced, kind, codes):
    body = listed(api, f"/pricebooks/{kind}")
    assert [row["code"] for row in body["data"]] == codes
    assert {row["kind"] for row in body["data"]} == {kind}
    assert body["pagination"]["sort"] == "name"
    assert body["pagination"]["total_count"] == len(codes)


def test_a_pricebook_row_in_the_vendors_words(api, priced):
    row = listed(api, "/pricebooks/contactlenses", search="acu")["data"]
    assert row == [
        {
            "item_id": priced["items"]["CL-AO6"],
            "kind": "contactlenses",
            "code": "CL-AO6",
            "name": "Acuvue Oasys 6pk",
            "retail_price": 62.0,
            "cost": 1.5,
            "attributes": {},
            "create_date": row[0]["create_date"],
            "update_date": row[0]["update_date"],
        }
    ]
    frame = listed(api, "/pricebooks/frames", search="holb")["data"][0]
    assert frame["item_id"] == priced["oakley"]
    assert frame["name"] == "Oakley Holbrook"
    assert frame["retail_price"] == 210.0
    assert frame["attributes"]["brand"] == "Oakley"
    tier = listed(api, "/pricebooks/tierprices", search="insurance")["data"][0]
    assert tier["attributes"] == {
        "discount_percent": 20.0,
        "description": "Vision plan",
        "is_default": False,
    }


@pytest.mark.parametrize(
    ("params", "codes"),
    [
        ({"sort": "-retail_price"}, ["CL-AO6", "CL-B6"]),
        ({"sort": "retail_price"}, ["CL-B6", "CL-AO6"]),
        ({"sort": "-code"}, ["CL-B6", "CL-AO6"]),
        ({"sort": "cost,-name"}, ["CL-B6", "CL-AO6"]),
        ({"search": "CL-B"}, ["CL-B6"]),
        ({"search": "nothing"}, []),
        ({"updated_since": "2999-01-01"}, []),
        ({"updated_since": "2000-01-01T00:00:00"}, ["CL-AO6", "CL-B6"]),
        ({"page": "2", "page_size": "5"}, []),
    ],
)
def test_pricebook_filters_and_sorts(api, priced, params, codes):
    body = listed(api, "/pricebooks/contactlenses", **params)
    assert [row["code"] for row in body["data"]] == codes


@pytest.mark.parametrize("key", ["item_id", "create_date", "update_date"])
def test_every_pricebook_sort_field_is_accepted(api, priced, key):
    body = listed(api, "/pricebooks/frames", sort=f"-{key}")
    assert body["pagination"]["sort"] == f"-{key}"
    assert {row["code"] for row in body["data"]} == {"OX-1", "RB-1"}


PRICEBOOK_SORT = "item_id|code|name|retail_price|cost|create_date|update_date"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"search": ""}, '"search" is not allowed to be empty'),
        (
            {"search": "x" * 101, "updated_since": "May 1"},
            '"search" length must be less than or equal to 100 characters long,'
            "updated_since must be YYYY-MM-DD or YYYY-MM-DDTHH:mm:ss",
        ),
        (
            {"sort": "price"},
            '"sort" with value "price" fails to match the required pattern: '
            f"/^(-?({PRICEBOOK_SORT})(,-?({PRICEBOOK_SORT}))*$)/",
        ),
        ({"name": "x", "kind": "frames"}, '"name" is not allowed,"kind" is not allowed'),
    ],
)
def test_pricebook_list_messages(api, priced, params, message):
    assert error(api.get("/pricebooks/lenses", params=params), 400) == message


def test_each_pricebook_has_its_own_scope(api, priced):
    response = api.get("/pricebooks/frames", scopes="read:pricebooks:lenses")
    assert response.status_code == 403
    assert response.json() == {
        "message": "Insufficient permissions. The scope 'read:pricebooks:frames' is required "
        "for this operation.",
        "required_scope": "read:pricebooks:frames",
        "available_scopes": ["read:pricebooks:lenses"],
    }
    assert api.get("/pricebooks/lenses", scopes="read:pricebooks:lenses").status_code == 200
    assert error(api.get("/pricebooks/sunglasses"), 404)


def test_another_practices_rows_are_not_listed(api, priced):
    assert [r["code"] for r in listed(api, "/pricebooks/frames")["data"]] == ["OX-1", "RB-1"]
    codes = [r["code"] for r in listed(api, "/pricebooks/contactlenses")["data"]]
    assert "CL-XX" not in codes


# --------------------------------------------------------------------------- frames writes


def frame_body(sku, **more):
    return {"sku": sku, "brand": "Lindberg", "model": "Spirit 2264"} | more


def frames(db, practice_id):
    with db.reading() as reader:
        return set(reader.scalars(select(Frame.sku).where(Frame.practice_id == practice_id)))


def test_create_one_frame(api, db, world, priced):
    response = api.post(
        "/pricebooks/frames",
        json=frame_body("LB-1", color="Gold", eye_size=52, a=49.5, retail_price=420, cost=180.25),
    )
    assert response.status_code == 201, response.text
    row = response.json()
    assert row["code"] == "LB-1"
    assert row["name"] == "Lindberg Spirit 2264"
    assert row["retail_price"] == 420.0
    assert row["cost"] == 180.25
    assert row["attributes"]["color"] == "Gold"
    assert row["attributes"]["eye_size"] == 52
    assert row["attributes"]["a"] == 49.5
    assert frames(db, world.practice_id) == {"RB-1", "OX-1", "LB-1"}
    listed_row = listed(api, "/pricebooks/frames", search="LB-1")["data"]
    assert listed_row == [row]


def test_bulk_frames_are_all_created_in_order(api, db, world, priced):
    response = api.post("/pricebooks/frames", json=[frame_body("LB-1"), frame_body("LB-2")])
    assert response.status_code == 201, response.text
    assert [row["code"] for row in response.json()["data"]] == ["LB-1", "LB-2"]
    assert frames(db, world.practice_id) == {"RB-1", "OX-1", "LB-1", "LB-2"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            [frame_body("LB-1"), frame_body("LB-2", eye_size=5), {"sku": "LB-3"}],
            '"[1].eye_size" must be greater than or equal to 10,'
            '"[2].brand" is required,"[2].model" is required',
        ),
        (
            [frame_body("LB-1"), frame_body("LB-1")],
            '"[1].sku" repeats the SKU of record 0',
        ),
        (
            [frame_body("LB-1"), frame_body("RB-1")],
            '"[1].sku" a frame with SKU RB-1 already exists',
        ),
        (frame_body("RB-1"), '"sku" a frame with SKU RB-1 already exists'),
        (frame_body("   "), '"sku" is required'),
        (
            frame_body("LB-1", retail_price="12", cost=-1, bridge=18.5),
            '"bridge" must be an integer,"retail_price" must be a number,'
            '"cost" must be greater than or equal to 0',
        ),
        (
            frame_body("LB-1", temple=9007199254740993, retail_price=1e300),
            '"temple" must be a safe number,"retail_price" must be a safe number',
        ),
        (frame_body("LB-1", price=10), '"price" is not allowed'),
        (
            frame_body("LB-1", upc="1" * 15),
            '"upc" length must be less than or equal to 14 characters long',
        ),
        (
            [frame_body(f"LB-{i}") for i in range(101)],
            '"value" must contain less than or equal to 100 items',
        ),
        ([], '"value" must contain at least 1 items'),
        ("LB-1", '"value" must be an object or an array of objects'),
    ],
)
def test_refused_frames_write_nothing(api, db, world, priced, body, message):
    before = count(db, Frame)
    assert error(api.post("/pricebooks/frames", json=body), 400) == message
    assert count(db, Frame) == before
    assert frames(db, world.practice_id) == {"RB-1", "OX-1"}


@pytest.mark.parametrize(
    "content", [b'[{"sku": "LB-1", ', b"\xff", b'{"sku": "LB-1", "bridge": ' + b"9" * 5000 + b"}"]
)
def test_malformed_frame_json_is_400_and_writes_nothing(api, db, priced, content):
    before = count(db, Frame)
    response = api.post(
        "/pricebooks/frames", content=content, headers={"Content-Type": "application/json"}
    )
    assert error(response, 400)
    assert count(db, Frame) == before


def test_patch_a_frame(api, db, priced):
    response = api.call(
        "PATCH",
        f"/pricebooks/frames/{priced['plain']}",
        json={"retail_price": 155.5, "cost": 60, "color": "Havana", "upc": None},
    )
    assert response.status_code == 200, response.text
    row = response.json()
    assert row["item_id"] == priced["plain"]
    assert row["retail_price"] == 155.5
    assert row["cost"] == 60.0
    assert row["attributes"]["color"] == "Havana"
    with db.reading() as reader:
        frame = reader.execute(
            select(Frame.price, Frame.wholesale_price, Frame.color).where(
                Frame.id == uuid.UUID(priced["plain"])
            )
        ).one()
        assert tuple(frame) == (
            Decimal("155.50"),
            Decimal("60.00"),
            "Havana",
        )
    assert listed(api, "/pricebooks/frames", search="RB-1")["data"] == [row]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, '"value" must have at least 1 key'),
        ([{"cost": 1}], '"value" must be of type object'),
        ({"sku": "NEW"}, '"sku" is not allowed'),
        (
            {"cost": "free", "brand": ""},
            '"brand" is not allowed to be empty,"cost" must be a number',
        ),
        ({"brand": "   "}, '"brand" is required'),
    ],
)
def test_refused_frame_patches_change_nothing(api, db, priced, body, message):
    path = f"/pricebooks/frames/{priced['plain']}"
    before = listed(api, "/pricebooks/frames", search="RB-1")["data"]
    assert error(api.call("PATCH", path, json=body), 400) == message
    assert listed(api, "/pricebooks/frames", search="RB-1")["data"] == before
    assert before[0]["attributes"]["brand"] == "Ray-Ban"


def test_patching_another_practices_frame_is_404(api, db, priced):
    path = f"/pricebooks/frames/{priced['foreign_frame']}"
    assert error(api.call("PATCH", path, json={"cost": 1}), 404)
    assert error(api.call("PATCH", "/pricebooks/frames/nope", json={"cost": 1}), 404)
    with db.reading() as reader:
        cost = reader.scalar(
            select(Frame.wholesale_price).where(Frame.id == uuid.UUID(priced["foreign_frame"]))
        )
    assert cost != Decimal("1.00")


# --------------------------------------------------------------------------- price tiers


def tier_names(db, practice_id):
    with db.reading() as reader:
        return sorted(
            reader.scalars(select(PriceTier.name).where(PriceTier.practice_id == practice_id))
        )


def test_price_tiers_list_and_read(api, priced):
    body = listed(api, "/configurations/pricetiers")
    assert [t["name"] for t in body["data"]] == ["Insurance VSP", "Retail"]
    vsp = body["data"][0]
    assert vsp == {
        "pricetier_id": priced["vsp"],
        "name": "Insurance VSP",
        "description": "Vision plan",
        "discount_percent": 20.0,
        "is_default": False,
        "create_date": vsp["create_date"],
        "update_date": vsp["update_date"],
    }
    assert api.get(f"/configurations/pricetiers/{priced['vsp']}").json() == vsp
    assert [t["name"] for t in listed(api, "/configurations/pricetiers", name="ret")["data"]] == [
        "Retail"
    ]
    names = listed(api, "/configurations/pricetiers", sort="-name")["data"]
    assert [t["name"] for t in names] == ["Retail", "Insurance VSP"]
    assert error(api.get("/configurations/pricetiers", params={"sort": "discount"}), 400) == (
        '"sort" with value "discount" fails to match the required pattern: '
        "/^(-?(pricetier_id|name|create_date|update_date)"
        "(,-?(pricetier_id|name|create_date|update_date))*$)/"
    )


def test_create_a_price_tier_making_it_the_default(api, db, world, priced):
    response = api.post(
        "/configurations/pricetiers",
        json={"name": "Staff", "discount_percent": 35.5, "is_default": True},
    )
    assert response.status_code == 201, response.text
    tier = response.json()
    assert (tier["name"], tier["discount_percent"], tier["is_default"]) == ("Staff", 35.5, True)
    assert tier["description"] is None
    retail = api.get(f"/configurations/pricetiers/{priced['retail']}").json()
    assert retail["is_default"] is False
    assert tier_names(db, world.practice_id) == ["Insurance VSP", "Retail", "Staff"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "retail"}, "A price tier named retail already exists"),
        ({"discount_percent": 10}, '"name" is required'),
        (
            {"name": "X", "discount_percent": 100.01, "is_default": "yes"},
            '"discount_percent" must be less than or equal to 100,"is_default" must be a boolean',
        ),
        (
            {"name": "X", "discount_percent": 1.005},
            '"discount_percent" must have no more than 2 decimal places',
        ),
        ({"name": "X", "tier": 1}, '"tier" is not allowed'),
        ([{"name": "X"}], '"value" must be of type object'),
        ({"name": "x" * 101}, '"name" length must be less than or equal to 100 characters long'),
    ],
)
def test_refused_price_tiers_write_nothing(api, db, world, priced, body, message):
    assert error(api.post("/configurations/pricetiers", json=body), 400) == message
    assert tier_names(db, world.practice_id) == ["Insurance VSP", "Retail"]


def test_a_name_of_another_practice_is_free(api, db, world, priced):
    response = api.post("/configurations/pricetiers", json={"name": "Foreign tier"})
    assert response.status_code == 201, response.text


def test_update_a_price_tier(api, priced):
    path = f"/configurations/pricetiers/{priced['vsp']}"
    response = api.call("PATCH", path, json={"discount_percent": 25, "name": "VSP"})
    assert response.status_code == 200, response.text
    assert (response.json()["name"], response.json()["discount_percent"]) == ("VSP", 25.0)
    assert response.json()["description"] == "Vision plan"
    cleared = api.call("PATCH", path, json={"description": None})
    assert cleared.json()["description"] is None
    assert api.get(path).json() == cleared.json()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "Retail"}, "A price tier named Retail already exists"),
        ({}, '"value" must have at least 1 key'),
        ({"discount_percent": -1}, '"discount_percent" must be greater than or equal to 0'),
        ({"name": ""}, '"name" is not allowed to be empty'),
    ],
)
def test_refused_price_tier_updates_change_nothing(api, priced, body, message):
    path = f"/configurations/pricetiers/{priced['vsp']}"
    before = api.get(path).json()
    assert error(api.call("PATCH", path, json=body), 400) == message
    assert api.get(path).json() == before


@pytest.mark.parametrize("number", ["-1e-999999999", "1e-400"])
def test_a_price_or_percent_too_small_to_hold_is_refused_not_stored_as_0(api, db, priced, number):
    tier = f"/configurations/pricetiers/{priced['vsp']}"
    frame = f"/pricebooks/frames/{priced['plain']}"

    def state():
        return (
            listed(api, "/configurations/pricetiers")["data"],
            listed(api, "/pricebooks/frames")["data"],
        )

    before = state()
    for method, path, content, field in [
        (
            "POST",
            "/configurations/pricetiers",
            f'{{"name": "Tiny", "discount_percent": {number}}}',
            "discount_percent",
        ),
        ("PATCH", tier, f'{{"discount_percent": {number}}}', "discount_percent"),
        (
            "POST",
            "/pricebooks/frames",
            f'{{"sku": "LB-9", "brand": "B", "model": "M", "retail_price": {number}}}',
            "retail_price",
        ),
        ("PATCH", frame, f'{{"retail_price": {number}}}', "retail_price"),
    ]:
        response = api.call(
            method, path, content=content, headers={"Content-Type": "application/json"}
        )
        message = error(response, 400)
        assert message.startswith(f"{field}: The number {number} is too small"), message
    assert state() == before


def test_delete_a_price_tier_and_its_items(api, db, world, priced):
    with db.transaction() as s:
        pricebooks.create_item(
            s,
            factories.actor(world.practice_id),
            "lenses",
            pricebooks.PricebookItemDetails(
                "VSP-SV", "VSP single vision", Decimal("40"), price_tier_id=uuid.UUID(priced["vsp"])
            ),
        )
    items = count(db, PricebookItem)
    path = f"/configurations/pricetiers/{priced['vsp']}"
    response = api.call("DELETE", path)
    assert response.status_code == 204
    assert response.content == b""
    assert error(api.get(path), 404)
    assert error(api.call("DELETE", path), 404)
    assert count(db, PricebookItem) == items - 1
    assert tier_names(db, world.practice_id) == ["Retail"]


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_another_practices_price_tier_is_404(api, db, world, priced, method):
    path = f"/configurations/pricetiers/{priced['foreign_tier']}"
    assert error(api.call(method, path, json={"name": "Mine now"}), 404)
    assert error(api.call(method, "/configurations/pricetiers/123", json={"name": "x"}), 404)
    assert tier_names(db, world.other_practice_id) == ["Foreign tier"]
