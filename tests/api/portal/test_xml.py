"""DataContract XML in and out, the vendor's published sample, and XML that must never be
expanded."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest
from sqlalchemy import select

from optihub.db.models import Order, OrderLine
from optihub.surfaces.kit.responses import parse_xml
from tests.api.portal.conftest import table_counts
from tests.unit.test_portal_codec import VENDOR_ORDER_XML

BASE = "http://schemas.datacontract.org/2004/07/GlobalPortal.Api.Models"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XML = {"Content-Type": "application/xml"}


def document(root: str, ns: str, external_id: str, inner: str) -> bytes:
    return (
        f'<{root} xmlns:i="{XSI}" xmlns="{BASE}.{ns}">'
        f'<ExternalId xmlns="{BASE}">{external_id}</ExternalId>{inner}</{root}>'
    ).encode()


def same_record(get, resource: str, from_xml: str, from_json: str) -> dict:
    a = get(resource, from_xml).json()
    b = get(resource, from_json).json()
    assert a.pop("externalId") == from_xml and b.pop("externalId") == from_json
    assert a.pop("id") != b.pop("id")
    assert a == b
    return a


def test_a_patient_in_xml_reads_back_as_its_json_twin(basics, post, get) -> None:
    inner = (
        "<FirstName>Ola</FirstName><LastName>Berg</LastName>"
        "<Birthday>1980-04-02T00:00:00Z</Birthday><EmailAddress>ola@example.com</EmailAddress>"
        "<Phone>2185550111</Phone><LocationExternalId>L1</LocationExternalId>"
        '<Notes i:nil="true"/><Active>true</Active><AllowSmsReminders>false</AllowSmsReminders>'
    )
    response = post(
        "Patients", content=document("PatientModel", "Patients", "PX", inner), headers=XML
    )
    assert response.status_code == 200, response.text
    assert response.headers["X-Portal-Change"] == "created"
    twin = {
        "externalId": "PJ",
        "firstName": "Ola",
        "lastName": "Berg",
        "birthday": "1980-04-02T00:00:00+00:00",
        "emailAddress": "ola@example.com",
        "phone": "2185550111",
        "locationExternalId": "L1",
        "notes": None,
        "active": True,
        "allowSmsReminders": False,
    }
    assert post("Patients", twin).status_code == 200
    shown = same_record(get, "Patients", "PX", "PJ")
    assert shown["birthday"] == "1980-04-02T00:00:00+00:00"
    # text/xml is XML too, and the same document again changes nothing.
    again = post(
        "Patients",
        content=document("PatientModel", "Patients", "PX", inner),
        headers={"Content-Type": "text/xml; charset=utf-8"},
    )
    assert again.headers["X-Portal-Change"] == "unchanged"


def test_a_location_with_hours_in_xml(post, get, sync, db) -> None:
    inner = (
        "<Name>North Shore</Name><Active>true</Active><City>Two Harbors</City>"
        "<MondayClosed>false</MondayClosed><MondayFrom>09:00:00</MondayFrom>"
        "<MondayTo>17:30:00</MondayTo><SundayClosed>true</SundayClosed>"
        "<SaturdayFrom>10:00</SaturdayFrom><SaturdayTo>14:00</SaturdayTo>"
    )
    response = post(
        "Locations", content=document("LocationModel", "Locations", "LX", inner), headers=XML
    )
    assert response.status_code == 200, response.text
    twin = {
        "externalId": "LJ",
        "name": "North Shore",
        "active": True,
        "city": "Two Harbors",
        "mondayClosed": False,
        "mondayFrom": "09:00:00",
        "mondayTo": "17:30:00",
        "sundayClosed": True,
        "saturdayFrom": "10:00:00",
        "saturdayTo": "14:00:00",
    }
    assert post("Locations", twin).status_code == 200
    shown = same_record(get, "Locations", "LX", "LJ")
    assert shown["saturdayFrom"] == "10:00:00"


def test_an_order_with_details_in_xml(basics, post, get, db) -> None:
    detail = (
        "<OrderDetailModel><OrderDetailExternalId>OD1</OrderDetailExternalId>"
        "<ProductDescription>Frame</ProductDescription><Quantity>2</Quantity>"
        "<UnitPrice>75.50</UnitPrice><Tax1>3.10</Tax1><Tax2>0.40</Tax2></OrderDetailModel>"
    )
    inner = (
        "<PatientExternalId>P1</PatientExternalId><LocationExternalId>L1</LocationExternalId>"
        "<OrderStatusExternalId>S-LAB</OrderStatusExternalId><Type>Frames</Type>"
        f"<OrderBalance>10.00</OrderBalance><OrderDetails>{detail}</OrderDetails>"
    )
    response = post("Orders", content=document("OrderModel", "Orders", "OX", inner), headers=XML)
    assert response.status_code == 200, response.text
    twin = {
        "externalId": "OJ",
        "patientExternalId": "P1",
        "locationExternalId": "L1",
        "orderStatusExternalId": "S-LAB",
        "type": "Frames",
        "orderBalance": 10.00,
        "orderDetails": [
            {
                "orderDetailExternalId": "OD1",
                "productDescription": "Frame",
                "quantity": 2,
                "unitPrice": 75.50,
                "tax1": 3.10,
                "tax2": 0.40,
            }
        ],
    }
    assert post("Orders", twin).status_code == 200
    shown = same_record(get, "Orders", "OX", "OJ")
    assert shown["orderDetails"][0]["quantity"] == 2
    with db.read_sessions() as reader:
        row = reader.scalar(select(Order).where(Order.external_id == "OX"))
        line = reader.scalar(select(OrderLine).where(OrderLine.order_id == row.id))
    assert row.status == "in_progress" and row.type == "frames"
    assert (line.quantity, str(line.unit_price), str(line.tax)) == (2, "75.50", "3.50")


def test_accept_xml_answers_xml(basics, get) -> None:
    response = get("Patients", "P1", headers={"Accept": "application/xml"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    root = parse_xml(response.content)
    assert root.tag == f"{{{BASE}.Patients}}PatientModel"
    assert root.find(f"{{{BASE}}}ExternalId").text == "P1"
    assert root.find(f"{{{BASE}.Patients}}LastName").text == "Lind"
    assert root.find(f"{{{BASE}.Patients}}Birthday").get(f"{{{XSI}}}nil") == "true"


def test_errors_in_xml(basics, get, post) -> None:
    missing = get("Patients", "P404", headers={"Accept": "application/xml"})
    assert missing.status_code == 404
    root = parse_xml(missing.content)
    assert root.tag == "Error"
    assert root.findtext("Message") == "No patient with ExternalId 'P404' exists."
    invalid = post(
        "Patients",
        content=document("PatientModel", "Patients", "PX", "<FirstName>A</FirstName>"),
        headers={**XML, "Accept": "application/xml"},
    )
    assert invalid.status_code == 400
    root = parse_xml(invalid.content)
    assert root.findtext("Message") == "The request is invalid."
    assert root.find("ModelState") is not None
    assert "LastName" in ElementTree.tostring(root.find("ModelState"), encoding="unicode")


def test_the_vendors_order_sample_is_accepted(basics, post, get, db) -> None:
    for resource, sent in (
        ("Patients", {"externalId": "sample string 2", "lastName": "Sample"}),
        ("Locations", {"externalId": "sample string 3", "name": "Sample"}),
        (
            "Doctors",
            {
                "externalId": "sample string 4",
                "lastName": "Sample",
                "active": True,
                "inHouse": True,
            },
        ),
        ("Users", {"externalId": "sample string 5", "username": "sample"}),
        ("OrderStatuses", {"externalId": "sample string 6", "name": "Ready for pickup"}),
    ):
        assert post(resource, sent).status_code == 200, resource
    response = post("Orders", content=VENDOR_ORDER_XML, headers=XML)
    assert response.status_code == 200, response.text
    assert response.json()["externalId"] == "sample string 1"
    assert response.json()["id"] != "1d4c9d39-8a6b-4a8e-a8f6-2e5a7d6f9c11"  # Id is read-only
    with db.read_sessions() as reader:
        row = reader.scalar(select(Order).where(Order.external_id == "sample string 1"))
        lines = reader.scalars(select(OrderLine).where(OrderLine.order_id == row.id)).all()
    assert row.status == "delivered"  # it has a PickupDate
    assert row.type == "other"
    assert row.special_instructions == "sample string 9"
    assert len(lines) == 2
    assert all(line.quantity == 3 and str(line.tax) == "13.00" for line in lines)
    xml = get("Orders", "sample string 1", headers={"Accept": "text/xml"})
    root = parse_xml(xml.content)
    assert root.tag == f"{{{BASE}.Orders}}OrderModel"
    assert len(root.find(f"{{{BASE}.Orders}}OrderDetails")) == 2


BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    b'<PatientModel xmlns="' + f"{BASE}.Patients".encode() + b'">'
    b'<ExternalId xmlns="' + BASE.encode() + b'">PB</ExternalId><LastName>&lol3;</LastName>'
    b"</PatientModel>"
)
EXTERNAL = (
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    b'<PatientModel xmlns="' + f"{BASE}.Patients".encode() + b'">'
    b'<ExternalId xmlns="' + BASE.encode() + b'">PE</ExternalId><LastName>&e;</LastName>'
    b"</PatientModel>"
)
BARE_DTD = (
    b'<!DOCTYPE PatientModel SYSTEM "http://example.com/x.dtd">'
    b'<PatientModel xmlns="' + f"{BASE}.Patients".encode() + b'">'
    b'<ExternalId xmlns="' + BASE.encode() + b'">PD</ExternalId><LastName>Lind</LastName>'
    b"</PatientModel>"
)


@pytest.mark.parametrize("payload", [BOMB, EXTERNAL, BARE_DTD], ids=["bomb", "external", "dtd"])
@pytest.mark.parametrize("accept", ["application/json", "application/xml"])
def test_dtds_and_entities_are_refused(payload, accept, post, get, db) -> None:
    counts = table_counts(db)
    response = post("Patients", content=payload, headers={**XML, "Accept": accept})
    assert response.status_code == 400, response.text
    if accept == "application/json":
        assert set(response.json()) <= {"Message", "ModelState"}
        assert response.json()["Message"]
    else:
        assert parse_xml(response.content).findtext("Message")
    assert b"lollol" not in response.content
    assert b"root:" not in response.content
    assert table_counts(db) == counts
    for external_id in ("PB", "PE", "PD"):
        assert get("Patients", external_id).status_code == 404


@pytest.mark.parametrize(
    "payload",
    [b"<PatientModel><unclosed>", b"", b"not xml at all", b"<OrderModel/>"],
)
def test_malformed_or_wrong_xml(payload, post, db) -> None:
    counts = table_counts(db)
    response = post("Patients", content=payload, headers=XML)
    assert response.status_code == 400, response.text
    assert "Message" in response.json()
    assert table_counts(db) == counts


@pytest.mark.parametrize(
    "last_name",
    [b"Li&#xD800;nd", b"Li&#xdfff;nd", b"Li\xed\xa0\x80nd"],
    ids=["reference", "low-reference", "raw-bytes"],
)
def test_xml_cannot_carry_half_a_surrogate_pair(last_name, post, db) -> None:
    """Not as a character reference, not as bytes: the parser refuses both (not well
    formed), so nothing that is not Unicode reaches a record."""
    counts = table_counts(db)
    payload = document("PatientModel", "Patients", "PS", "<LastName>SLOT</LastName>")
    response = post("Patients", content=payload.replace(b"SLOT", last_name), headers=XML)
    assert response.status_code == 400, response.text
    assert response.json() == {"Message": "The body is not well-formed XML"}
    assert table_counts(db) == counts


@pytest.mark.parametrize(
    "media", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_unsupported_content_types(media, post, db) -> None:
    counts = table_counts(db)
    response = post(
        "Patients",
        content=b'{"externalId": "P1", "lastName": "Lind"}',
        headers={"Content-Type": media},
    )
    assert response.status_code == 415, response.text
    assert set(response.json()) == {"Message"}
    assert table_counts(db) == counts


def test_text_json_is_json(post, get) -> None:
    response = post(
        "Patients",
        content=b'{"externalId": "P7", "lastName": "Lind"}',
        headers={"Content-Type": "text/json"},
    )
    assert response.status_code == 200, response.text
    assert get("Patients", "P7").json()["lastName"] == "Lind"
