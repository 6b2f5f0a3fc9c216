"""The portal sync dialect's codec: JSON and DataContract XML bodies ↔ Python records."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optihub.errors import BadRequest
from optihub.surfaces.kit.responses import local_name, parse_xml
from optihub.surfaces.portal.codec import (
    KINDS,
    MODELS,
    SUB_MODELS,
    Field,
    Invalid,
    Model,
    decode_json,
    decode_xml,
    encode_error_json,
    encode_error_xml,
    encode_json,
    encode_local_name,
    encode_page_json,
    encode_page_xml,
    encode_xml,
    max_length,
)

BASE_NS = "http://schemas.datacontract.org/2004/07/GlobalPortal.Api.Models"
ORDERS_NS = BASE_NS + ".Orders"
XSI = "http://www.w3.org/2001/XMLSchema-instance"

_DETAIL_XML = (
    "<OrderDetailModel><OrderDetailExternalId>sample string 1</OrderDetailExternalId>"
    "<ProductDescription>sample string 2</ProductDescription><Quantity>3</Quantity>"
    "<RetailPrice>4</RetailPrice><Tax1>6</Tax1><Tax2>7</Tax2><UnitPrice>5</UnitPrice>"
    "</OrderDetailModel>"
)

# The integrator's published sample body for POST api/Orders.
VENDOR_ORDER_XML = (
    f'<OrderModel xmlns:i="{XSI}" xmlns="{ORDERS_NS}">'
    f'<ExternalId xmlns="{BASE_NS}">sample string 1</ExternalId>'
    f'<Id xmlns="{BASE_NS}">1d4c9d39-8a6b-4a8e-a8f6-2e5a7d6f9c11</Id>'
    "<Created>2026-05-29T16:57:34.2952871+00:00</Created>"
    "<LocationExternalId>sample string 3</LocationExternalId>"
    "<OrderBalance>7</OrderBalance>"
    f"<OrderDetails>{_DETAIL_XML}{_DETAIL_XML}</OrderDetails>"
    "<OrderStatusExternalId>sample string 6</OrderStatusExternalId>"
    "<PatientBalance>8</PatientBalance>"
    "<PatientExternalId>sample string 2</PatientExternalId>"
    "<PhysicianExternalId>sample string 4</PhysicianExternalId>"
    "<PickupDate>2026-05-29T16:57:34.2952871+00:00</PickupDate>"
    "<ReceiptNote>sample string 9</ReceiptNote>"
    "<Type>sample string 10</Type>"
    "<UserExternalId>sample string 5</UserExternalId>"
    "</OrderModel>"
).encode()

_DETAIL_JSON = {
    "orderDetailExternalId": "sample string 1",
    "productDescription": "sample string 2",
    "quantity": 3,
    "retailPrice": 4.0,
    "unitPrice": 5.0,
    "tax1": 6.0,
    "tax2": 7.0,
}

VENDOR_ORDER_JSON = json.dumps(
    {
        "created": "2026-05-29T16:57:34.2952871+00:00",
        "pickupDate": "2026-05-29T16:57:34.2952871+00:00",
        "patientExternalId": "sample string 2",
        "locationExternalId": "sample string 3",
        "physicianExternalId": "sample string 4",
        "userExternalId": "sample string 5",
        "orderStatusExternalId": "sample string 6",
        "orderBalance": 7.0,
        "patientBalance": 8.0,
        "receiptNote": "sample string 9",
        "type": "sample string 10",
        "orderDetails": [_DETAIL_JSON, _DETAIL_JSON],
        "id": "1d4c9d39-8a6b-4a8e-a8f6-2e5a7d6f9c11",
        "externalId": "sample string 1",
    }
).encode()

SAMPLE_INSTANT = datetime(2026, 5, 29, 16, 57, 34, 295287, tzinfo=UTC)
SAMPLE_DETAIL = {
    "OrderDetailExternalId": "sample string 1",
    "ProductDescription": "sample string 2",
    "Quantity": 3,
    "RetailPrice": Decimal(4),
    "UnitPrice": Decimal(5),
    "Tax1": Decimal(6),
    "Tax2": Decimal(7),
}
SAMPLE_ORDER = {
    "ExternalId": "sample string 1",
    "Created": SAMPLE_INSTANT,
    "PickupDate": SAMPLE_INSTANT,
    "PatientExternalId": "sample string 2",
    "LocationExternalId": "sample string 3",
    "PhysicianExternalId": "sample string 4",
    "UserExternalId": "sample string 5",
    "OrderStatusExternalId": "sample string 6",
    "OrderBalance": Decimal(7),
    "PatientBalance": Decimal(8),
    "ReceiptNote": "sample string 9",
    "Type": "sample string 10",
    "OrderDetails": [SAMPLE_DETAIL, SAMPLE_DETAIL],
}

ORDERS = MODELS["Orders"]
DOCTORS = MODELS["Doctors"]
LOCATIONS = MODELS["Locations"]


def errors_of(call: Any, *args: Any) -> dict[str, list[str]]:
    with pytest.raises(Invalid) as caught:
        call(*args)
    assert caught.value.message == "The request is invalid."
    return caught.value.model_state


def order_json(**members: Any) -> bytes:
    body = {"externalId": "o-1", "patientExternalId": "p-1", "locationExternalId": "l-1"}
    body.update(members)
    return json.dumps(body).encode()


def order_xml(inner: str = "", root: str = "OrderModel") -> bytes:
    return (
        f'<{root} xmlns:i="{XSI}" xmlns="{ORDERS_NS}"><ExternalId>o-1</ExternalId>'
        f"<PatientExternalId>p-1</PatientExternalId><LocationExternalId>l-1</LocationExternalId>"
        f"{inner}</{root}>"
    ).encode()


# ---------------------------------------------------------------------- the tables


def test_every_resource_has_a_model_in_its_namespace() -> None:
    assert set(MODELS) == {
        "Locations",
        "Doctors",
        "Users",
        "Patients",
        "PatientRelationships",
        "FamilyMembers",
        "OrderStatuses",
        "Orders",
        "GlassesPrescriptions",
        "ContactLensPrescriptions",
        "AppointmentTypes",
        "AppointmentStatuses",
        "Appointments",
    }
    for resource, model in MODELS.items():
        assert model.resource == resource
        assert model.name.endswith("Model")
        assert model.namespace.startswith(BASE_NS + ".")
        assert model.has_base
        names = [f.name for f in model.fields]
        assert len(names) == len(set(names))
        assert "Id" not in names
        assert "ExternalId" not in names
        for field in model.fields:
            assert field.kind in KINDS
            assert (field.kind == "list") == (field.model is not None)
            if field.model:
                assert field.model in SUB_MODELS
    assert SUB_MODELS["OrderDetailModel"].has_base is False
    assert SUB_MODELS["OrderDetailModel"].namespace == ORDERS_NS
    assert len(LOCATIONS.fields) == 12 + 21
    required = {r: [f.name for f in m.fields if f.required] for r, m in MODELS.items()}
    assert required["Doctors"] == ["LastName", "Active", "InHouse"]
    assert required["Orders"] == ["PatientExternalId", "LocationExternalId"]
    assert required["Appointments"] == ["AppointmentStatusExternalId"]
    assert required["Users"] == []


def test_string_limits() -> None:
    assert max_length(Field("ExternalId", "string")) == 100
    assert max_length(Field("PatientExternalId", "string")) == 100
    assert max_length(Field("ZipCode", "string")) == 100
    assert max_length(Field("LastName", "string")) == 200
    assert max_length(Field("Address1", "string")) == 200
    assert max_length(Field("Notes", "string")) == 4000
    assert max_length(Field("RightEyePrescriptionDetails", "string")) == 4000


# ------------------------------------------------------------------ vendor samples


def test_vendor_xml_sample_decodes() -> None:
    record = decode_xml(ORDERS, VENDOR_ORDER_XML)
    assert record == SAMPLE_ORDER
    assert "Id" not in record
    assert record["Created"].utcoffset() == timedelta(0)


def test_vendor_json_sample_decodes() -> None:
    assert decode_json(ORDERS, VENDOR_ORDER_JSON) == SAMPLE_ORDER


def test_pascal_case_json_is_accepted_too() -> None:
    body = json.dumps(
        {"ExternalId": "o", "PATIENTEXTERNALID": "p", "LocationExternalId": "l", "Type": "Frames"}
    ).encode()
    assert decode_json(ORDERS, body) == {
        "ExternalId": "o",
        "PatientExternalId": "p",
        "LocationExternalId": "l",
        "Type": "Frames",
    }


# ------------------------------------------------------------------------ decoding


def test_absent_null_and_unknown_members() -> None:
    record = decode_json(
        ORDERS, order_json(pickupDate=None, id=str(uuid.uuid4()), colour="red", Unknown=[1])
    )
    assert record == {
        "ExternalId": "o-1",
        "PatientExternalId": "p-1",
        "LocationExternalId": "l-1",
        "PickupDate": None,
    }
    xml = order_xml('<PickupDate i:nil="true"/><Id>x</Id><Colour>red</Colour><ReceiptNote/>')
    assert decode_xml(ORDERS, xml) == {
        "ExternalId": "o-1",
        "PatientExternalId": "p-1",
        "LocationExternalId": "l-1",
        "PickupDate": None,
        "ReceiptNote": "",
    }


def test_xml_is_lenient_about_order_namespaces_and_case() -> None:
    xml = (
        b"<OrderModel><locationexternalid>l</locationexternalid>"
        b'<x:PatientExternalId xmlns:x="urn:other">p</x:PatientExternalId>'
        b"<ExternalId>o</ExternalId></OrderModel>"
    )
    assert decode_xml(ORDERS, xml) == {
        "ExternalId": "o",
        "PatientExternalId": "p",
        "LocationExternalId": "l",
    }


def test_pretty_printed_xml_with_declaration() -> None:
    xml = f"""<?xml version="1.0" encoding="utf-8"?>
<DoctorModel xmlns:i="{XSI}">
  <ExternalId>d</ExternalId>
  <LastName>Smith</LastName>
  <Active> true </Active>
  <InHouse>0</InHouse>
  <Locations>
    <string>l-1</string>
  </Locations>
</DoctorModel>
""".encode()
    assert decode_xml(DOCTORS, xml) == {
        "ExternalId": "d",
        "LastName": "Smith",
        "Active": True,
        "InHouse": False,
        "Locations": ["l-1"],
    }


def test_datetimes() -> None:
    field = "Created"
    cases = {
        "2026-05-29T16:57:34.2952871+00:00": SAMPLE_INSTANT,
        "2026-05-29T16:57:34Z": datetime(2026, 5, 29, 16, 57, 34, tzinfo=UTC),
        "2026-05-29T16:57:34": datetime(2026, 5, 29, 16, 57, 34, tzinfo=UTC),
        "2026-05-29": datetime(2026, 5, 29, tzinfo=UTC),
        "2026-05-29T08:00:00.5-05:30": datetime(
            2026, 5, 29, 8, 0, 0, 500000, tzinfo=timezone(-timedelta(hours=5, minutes=30))
        ),
    }
    for text, expected in cases.items():
        value = decode_json(ORDERS, order_json(created=text))[field]
        assert value == expected
        assert value.utcoffset() == expected.utcoffset()
        assert decode_xml(ORDERS, order_xml(f"<Created>{text}</Created>"))[field] == expected


def test_times_and_bytes() -> None:
    body = json.dumps(
        {"externalId": "x", "name": "Main", "mondayFrom": "08:30", "mondayTo": "17:00:00"}
    )
    record = decode_json(LOCATIONS, body.encode())
    assert record["MondayFrom"] == time(8, 30)
    assert record["MondayTo"] == time(17)
    assert b'"mondayFrom":"08:30:00"' in encode_json(LOCATIONS, record)
    glasses = MODELS["GlassesPrescriptions"]
    pdf = b"%PDF-1.7\n\x00\xff"
    xml = (
        "<GlassesPrescriptionModel><ExternalId>g</ExternalId><PatientExternalId>p"
        f"</PatientExternalId><FileContent>\n{base64.encodebytes(pdf).decode()}</FileContent>"
        "</GlassesPrescriptionModel>"
    ).encode()
    assert decode_xml(glasses, xml)["FileContent"] == pdf


def test_decimals_keep_their_digits() -> None:
    precise = "12345678901234567890.12345678"
    record = decode_json(
        ORDERS, order_json().replace(b"}", f',"orderBalance":{precise}}}'.encode())
    )
    assert record["OrderBalance"] == Decimal(precise)
    assert f'"orderBalance":{precise}'.encode() in encode_json(ORDERS, record)
    assert f"<OrderBalance>{precise}</OrderBalance>".encode() in encode_xml(ORDERS, record)
    huge = decode_json(
        ORDERS, order_json().replace(b"}", b',"orderBalance":79228162514264337593543950335}')
    )
    assert huge["OrderBalance"] == Decimal("79228162514264337593543950335")
    tiny = decode_json(
        ORDERS, order_json().replace(b"}", b',"orderBalance":0.12345678901234567890123456789}')
    )
    assert tiny["OrderBalance"] == Decimal("0.1234567890123456789012345679")
    exponent = decode_json(ORDERS, order_json().replace(b"}", b',"patientBalance":1.5e3}'))
    assert b'"patientBalance":1500' in encode_json(ORDERS, exponent)
    rounded_up = decode_json(ORDERS, order_json().replace(b"}", b',"orderBalance":6e-29}'))
    assert rounded_up["OrderBalance"] == Decimal("1e-28")


@pytest.mark.parametrize("number", ["-1e-999999999", "1e-29", "5e-29", "-0." + "0" * 28 + "1"])
def test_a_decimal_that_would_round_to_0_is_refused(number: str) -> None:
    """Too small for the decimal's 28 places, as a huge one is too large: refused, in JSON
    and in XML, never kept as 0."""
    as_json = order_json().replace(b"}", f',"orderBalance":{number}}}'.encode())
    as_xml = order_xml(f"<OrderBalance>{number}</OrderBalance>")
    for decode, body in ((decode_json, as_json), (decode_xml, as_xml)):
        [message] = errors_of(decode, ORDERS, body)["model.OrderBalance"]
        assert message.endswith("is not valid for OrderBalance."), message
    zero = decode_json(ORDERS, order_json().replace(b"}", b',"orderBalance":0e-999999999}'))
    assert zero["OrderBalance"] == 0


def test_strings_may_be_sent_as_json_numbers() -> None:
    record = decode_json(
        MODELS["Patients"], b'{"externalId": 42, "lastName": "Doe", "zipCode": 2000}'
    )
    assert record["ExternalId"] == "42"
    assert record["ZipCode"] == "2000"


def test_carriage_returns_survive_xml() -> None:
    record = {"ExternalId": "o", "PatientExternalId": "p", "LocationExternalId": "l"}
    record["ReceiptNote"] = "line one\r\nline two\r & <three>"
    assert decode_xml(ORDERS, encode_xml(ORDERS, record))["ReceiptNote"] == record["ReceiptNote"]
    legacy = {**record, "ReceiptNote": "bell\u0007"}
    assert decode_xml(ORDERS, encode_xml(ORDERS, legacy))["ReceiptNote"] == "bell\ufffd"


# -------------------------------------------------------------------------- errors


def test_malformed_and_non_object_json() -> None:
    assert errors_of(decode_json, ORDERS, b'{"externalId": ') == {
        "model": ["The request body is not valid JSON."]
    }
    assert errors_of(decode_json, ORDERS, b"\xff\xfe{") == {
        "model": ["The request body is not valid JSON."]
    }
    for body in (b"[]", b'"text"', b"null", b"3"):
        assert errors_of(decode_json, ORDERS, body) == {
            "model": ["The request body must be a JSON object."]
        }
    assert errors_of(decode_json, ORDERS, b"  ") == {
        "model": ["A non-empty request body is required."]
    }
    assert errors_of(decode_xml, ORDERS, b"") == {
        "model": ["A non-empty request body is required."]
    }


@pytest.mark.parametrize("value", [None, "", "   "])
def test_required_members(value: Any) -> None:
    state = errors_of(decode_json, ORDERS, order_json(patientExternalId=value))
    assert state == {"model.PatientExternalId": ["The PatientExternalId field is required."]}
    xml = order_xml().replace(b"<PatientExternalId>p-1</PatientExternalId>", b"")
    inner = (
        '<PatientExternalId i:nil="true"/>'
        if value is None
        else f"<PatientExternalId>{value}</PatientExternalId>"
    )
    state = errors_of(
        decode_xml, ORDERS, xml.replace(b"</OrderModel>", inner.encode() + b"</OrderModel>")
    )
    assert state == {"model.PatientExternalId": ["The PatientExternalId field is required."]}


def test_required_bools_and_everything_missing() -> None:
    state = errors_of(decode_json, DOCTORS, b'{"lastName": "Who", "active": ""}')
    assert state == {
        "model.ExternalId": ["The ExternalId field is required."],
        "model.Active": ["The Active field is required."],
        "model.InHouse": ["The InHouse field is required."],
    }
    state = errors_of(
        decode_xml, DOCTORS, b"<DoctorModel><Active/><InHouse>yes</InHouse></DoctorModel>"
    )
    assert state == {
        "model.ExternalId": ["The ExternalId field is required."],
        "model.LastName": ["The LastName field is required."],
        "model.Active": ["The Active field is required."],
        "model.InHouse": ["The value 'yes' is not valid for InHouse."],
    }


# (resource, member as JSON, JSON value, same as XML element text or None when JSON only)
TYPE_ERRORS = [
    ("Locations", "Active", "maybe", "maybe"),
    ("Locations", "Active", 1, None),
    ("Locations", "MondayFrom", "25:00:00", "25:00:00"),
    ("Locations", "MondayFrom", "8am", "8am"),
    ("Locations", "Name", {"a": 1}, None),
    ("Locations", "Name", True, None),
    ("Locations", "Notes", ["x"], None),
    ("PatientRelationships", "SortOrder", "abc", "abc"),
    ("PatientRelationships", "SortOrder", 2**31, str(2**31)),
    ("PatientRelationships", "SortOrder", -(2**31) - 1, str(-(2**31) - 1)),
    ("PatientRelationships", "SortOrder", 10**30, str(10**30)),
    ("PatientRelationships", "SortOrder", 1.5, "1.5"),
    ("PatientRelationships", "SortOrder", True, None),
    ("PatientRelationships", "SortOrder", "", ""),
    ("Orders", "OrderBalance", "abc", "abc"),
    ("Orders", "OrderBalance", "NaN", "NaN"),
    ("Orders", "OrderBalance", "Infinity", "INF"),
    ("Orders", "OrderBalance", 10**29, str(10**29)),
    ("Orders", "OrderBalance", "-79228162514264337593543950336", "-79228162514264337593543950336"),
    ("Orders", "OrderBalance", "1e400", None),
    ("Orders", "Created", "yesterday", "yesterday"),
    ("Orders", "Created", "2026-02-30T00:00:00Z", "2026-02-30T00:00:00Z"),
    ("Orders", "Created", "2026-05-29T16:57:34+25:00", "2026-05-29T16:57:34+25:00"),
    ("Orders", "Created", 1780000000, None),
    ("Orders", "OrderDetails", "none", "none"),
    ("GlassesPrescriptions", "FileContent", "!!not base64!!", "!!not base64!!"),
    ("GlassesPrescriptions", "FileContent", "abc", "abc"),
    ("Doctors", "Locations", "l-1", "l-1"),
]

_FILLERS = {
    "Locations": {"ExternalId": "x", "Name": "n"},
    "PatientRelationships": {"ExternalId": "x"},
    "Orders": {"ExternalId": "x", "PatientExternalId": "p", "LocationExternalId": "l"},
    "GlassesPrescriptions": {"ExternalId": "x", "PatientExternalId": "p"},
    "Doctors": {"ExternalId": "x", "LastName": "n", "Active": True, "InHouse": False},
}


@pytest.mark.parametrize(("resource", "member", "json_value", "xml_text"), TYPE_ERRORS)
def test_type_errors(resource: str, member: str, json_value: Any, xml_text: str | None) -> None:
    model = MODELS[resource]
    base = {k: v for k, v in _FILLERS[resource].items() if k != member}
    body = json.dumps({**base, member[0].lower() + member[1:]: json_value}).encode()
    state = errors_of(decode_json, model, body)
    assert list(state) == [f"model.{member}"]
    assert state[f"model.{member}"][0].startswith("The value '")
    assert state[f"model.{member}"][0].endswith(f"' is not valid for {member}.")
    if xml_text is None:
        return
    members = "".join(
        f"<{k}>{str(v).lower() if isinstance(v, bool) else v}</{k}>" for k, v in base.items()
    )
    xml = f"<{model.name}>{members}<{member}>{xml_text}</{member}></{model.name}>".encode()
    assert errors_of(decode_xml, model, xml) == {
        f"model.{member}": [f"The value '{xml_text}' is not valid for {member}."]
    }


def test_json_non_finite_literals_name_the_member() -> None:
    state = errors_of(decode_json, ORDERS, order_json().replace(b"}", b',"orderBalance":NaN}'))
    assert state == {"model.OrderBalance": ["The value 'NaN' is not valid for OrderBalance."]}


def test_huge_json_integers() -> None:
    state = errors_of(
        decode_json,
        MODELS["PatientRelationships"],
        b'{"externalId":"x","sortOrder":' + b"9" * 200 + b"}",
    )
    assert list(state) == ["model.SortOrder"]
    state = errors_of(
        decode_json, ORDERS, order_json().replace(b"}", b',"orderBalance":' + b"9" * 4000 + b"}")
    )
    assert list(state) == ["model.OrderBalance"]
    assert errors_of(decode_json, ORDERS, b'{"orderBalance":' + b"9" * 5000 + b"}") == {
        "model": ["The request body is not valid JSON."]
    }


def test_nested_paths_and_all_errors_at_once() -> None:
    details = [
        {"quantity": 1},
        {"quantity": "abc", "unitPrice": "x"},
        None,
        "detail",
    ]
    state = errors_of(
        decode_json, ORDERS, order_json(orderDetails=details, created="soon", patientExternalId="")
    )
    assert state == {
        "model.Created": ["The value 'soon' is not valid for Created."],
        "model.PatientExternalId": ["The PatientExternalId field is required."],
        "model.OrderDetails[1].Quantity": ["The value 'abc' is not valid for Quantity."],
        "model.OrderDetails[1].UnitPrice": ["The value 'x' is not valid for UnitPrice."],
        "model.OrderDetails[2]": ["The value 'null' is not valid for OrderDetails."],
        "model.OrderDetails[3]": ["The value 'detail' is not valid for OrderDetails."],
    }
    xml = order_xml(
        "<OrderDetails><OrderDetailModel><Quantity>1</Quantity></OrderDetailModel>"
        "<OrderDetailModel><Quantity>99999999999</Quantity></OrderDetailModel>"
        '<OrderDetailModel i:nil="true"/></OrderDetails>'
    )
    assert errors_of(decode_xml, ORDERS, xml) == {
        "model.OrderDetails[1].Quantity": ["The value '99999999999' is not valid for Quantity."],
        "model.OrderDetails[2]": ["The value 'null' is not valid for OrderDetails."],
    }


def test_string_items_of_a_list() -> None:
    body = (
        b'{"externalId":"d","lastName":"n","active":true,"inHouse":true,"locations":["a",3,null]}'
    )
    assert errors_of(decode_json, DOCTORS, body) == {
        "model.Locations[1]": ["The value '3' is not valid for Locations."],
        "model.Locations[2]": ["The value 'null' is not valid for Locations."],
    }
    ok = body.replace(b",3,null]", b',""]')
    assert decode_json(DOCTORS, ok)["Locations"] == ["a", ""]
    xml = (
        "<DoctorModel><ExternalId>d</ExternalId><LastName>n</LastName><Active>1</Active>"
        "<InHouse>0</InHouse><Locations><string>a</string><string>"
        + "x" * 101
        + '</string><string i:nil="true" xmlns:i="'
        + XSI
        + '"/><string><b/></string></Locations></DoctorModel>'
    ).encode()
    assert errors_of(decode_xml, DOCTORS, xml) == {
        "model.Locations[1]": [
            "The field Locations must be a string with a maximum length of 100."
        ],
        "model.Locations[2]": ["The value 'null' is not valid for Locations."],
        "model.Locations[3]": ["The value '' is not valid for Locations."],
    }


def test_string_length_and_characters() -> None:
    state = errors_of(decode_json, ORDERS, order_json(externalId="x" * 101, receiptNote="n" * 4001))
    assert state == {
        "model.ExternalId": ["The field ExternalId must be a string with a maximum length of 100."],
        "model.ReceiptNote": [
            "The field ReceiptNote must be a string with a maximum length of 4000."
        ],
    }
    assert decode_json(ORDERS, order_json(receiptNote="n" * 4000))["ReceiptNote"] == "n" * 4000
    for bad in ("bell\u0007", "nul\u0000", "half \ud800"):
        state = errors_of(decode_json, ORDERS, order_json(receiptNote=bad))
        assert state == {
            "model.ReceiptNote": ["The field ReceiptNote contains characters that are not allowed."]
        }


def test_wrong_xml_root() -> None:
    state = errors_of(decode_xml, ORDERS, order_xml(root="PatientModel"))
    assert list(state) == ["model"]
    assert state["model"][0].startswith(
        f"Expecting element 'OrderModel' from namespace '{ORDERS_NS}'."
    )
    assert "'PatientModel'" in state["model"][0]


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<OrderModel><ExternalId>o</ExternalId><PatientExternalId>p</PatientExternalId>
<LocationExternalId>l</LocationExternalId><ReceiptNote>&lol9;</ReceiptNote></OrderModel>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE OrderModel [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<OrderModel><ExternalId>o</ExternalId><PatientExternalId>p</PatientExternalId>
<LocationExternalId>l</LocationExternalId><ReceiptNote>&x;</ReceiptNote></OrderModel>"""

BARE_DOCTYPE = b"""<?xml version="1.0"?>
<!DOCTYPE OrderModel>
<OrderModel><ExternalId>o</ExternalId><PatientExternalId>p</PatientExternalId>
<LocationExternalId>l</LocationExternalId></OrderModel>"""


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY, BARE_DOCTYPE])
def test_dtds_and_entities_are_refused(body: bytes) -> None:
    with pytest.raises(BadRequest) as caught:
        decode_xml(ORDERS, body)
    assert caught.value.code == "invalid_xml"
    assert "DTD" in caught.value.message


def test_malformed_xml_is_a_bad_request() -> None:
    with pytest.raises(BadRequest):
        decode_xml(ORDERS, b"<OrderModel><ExternalId>o</OrderModel>")


# ------------------------------------------------------------------------ encoding


def test_json_output_shape() -> None:
    identifier = uuid.uuid4()
    body = json.loads(encode_json(ORDERS, {**SAMPLE_ORDER, "Id": identifier, "PickupDate": None}))
    assert list(body) == [
        "created",
        "pickupDate",
        "patientExternalId",
        "locationExternalId",
        "physicianExternalId",
        "userExternalId",
        "orderStatusExternalId",
        "orderBalance",
        "patientBalance",
        "receiptNote",
        "type",
        "orderDetails",
        "id",
        "externalId",
    ]
    assert body["created"] == "2026-05-29T16:57:34.295287+00:00"
    assert body["pickupDate"] is None
    assert body["id"] == str(identifier)
    assert body["orderDetails"][0] == {
        "orderDetailExternalId": "sample string 1",
        "productDescription": "sample string 2",
        "quantity": 3,
        "retailPrice": 4,
        "unitPrice": 5,
        "tax1": 6,
        "tax2": 7,
    }
    sparse = json.loads(encode_json(MODELS["Users"], {"ExternalId": "u"}))
    assert sparse["id"] is None
    assert sparse["active"] is None
    assert len(sparse) == 8


def test_xml_output_shape() -> None:
    identifier = uuid.uuid4()
    body = encode_xml(ORDERS, {**SAMPLE_ORDER, "Id": identifier, "PickupDate": None})
    root = parse_xml(body)
    assert root.tag == "{" + ORDERS_NS + "}OrderModel"
    names = [local_name(child.tag) for child in root]
    assert names[:2] == ["ExternalId", "Id"]
    assert names[2:] == sorted(f.name for f in ORDERS.fields)
    assert root[0].tag == "{" + BASE_NS + "}ExternalId"
    assert root[1].text == str(identifier)
    assert body.startswith(
        f'<OrderModel xmlns:i="{XSI}" xmlns="{ORDERS_NS}"><ExternalId xmlns="{BASE_NS}">'.encode()
    )
    assert b'<PickupDate i:nil="true"/>' in body
    assert b"<OrderBalance>7</OrderBalance>" in body
    assert b"<Created>2026-05-29T16:57:34.295287+00:00</Created>" in body
    assert b"<OrderDetails><OrderDetailModel><OrderDetailExternalId>" in body
    detail_names = [local_name(c.tag) for c in root.find(f"{{{ORDERS_NS}}}OrderDetails")[0]]
    assert detail_names == sorted(f.name for f in SUB_MODELS["OrderDetailModel"].fields)
    doctor = encode_xml(DOCTORS, {"ExternalId": "d", "Active": True, "Locations": ["a", "b"]})
    assert (
        b'<Locations xmlns:d2p1="http://schemas.microsoft.com/2003/10/Serialization/Arrays">'
        b"<d2p1:string>a</d2p1:string><d2p1:string>b</d2p1:string></Locations>"
    ) in doctor
    assert b"<Active>true</Active>" in doctor
    assert b'<Id xmlns="' + BASE_NS.encode() + b'" i:nil="true"/>' in doctor


def test_pages() -> None:
    page = {
        "TotalItems": 3,
        "ItemsPerPage": 2,
        "CurrentPage": 2,
        "TotalPages": 2,
        "FirstRowOnPage": 3,
        "LastRowOnPage": 3,
        "Rows": [{"ExternalId": "u-3", "Id": uuid.uuid4(), "Username": "c", "Active": False}],
    }
    users = MODELS["Users"]
    body = json.loads(encode_page_json(users, page))
    assert list(body) == [
        "totalItems",
        "itemsPerPage",
        "currentPage",
        "totalPages",
        "firstRowOnPage",
        "lastRowOnPage",
        "rows",
    ]
    assert body["rows"][0]["username"] == "c"
    assert body["rows"][0]["externalId"] == "u-3"
    root = parse_xml(encode_page_xml(users, page))
    assert local_name(root.tag) == "PagedResultOfUserModel"
    assert [local_name(c.tag) for c in root] == sorted([*page])
    assert root.find(f"{{{BASE_NS}}}TotalItems").text == "3"
    rows = root.find(f"{{{BASE_NS}}}Rows")
    assert rows[0].tag == "{" + users.namespace + "}UserModel"
    row_xml = encode_xml(users, page["Rows"][0])
    assert decode_xml(users, row_xml) == decode_json(users, json.dumps(body["rows"][0]).encode())
    empty = json.loads(encode_page_json(users, {"TotalItems": 0, "Rows": []}))
    assert empty["rows"] == []
    assert empty["currentPage"] is None


def test_error_bodies() -> None:
    state = {
        "model.OrderDetails[0].Quantity": ["The value 'abc' is not valid for Quantity."],
        "model.ExternalId": ["The ExternalId field is required.", "Second <one>."],
    }
    assert json.loads(encode_error_json("The request is invalid.", state)) == {
        "Message": "The request is invalid.",
        "ModelState": state,
    }
    assert json.loads(encode_error_json("Not found")) == {"Message": "Not found"}
    body = encode_error_xml("The request is invalid.", state)
    assert body == (
        b"<Error><Message>The request is invalid.</Message><ModelState>"
        b"<model.OrderDetails_x005B_0_x005D_.Quantity>The value 'abc' is not valid for Quantity."
        b"</model.OrderDetails_x005B_0_x005D_.Quantity>"
        b"<model.ExternalId>The ExternalId field is required.</model.ExternalId>"
        b"<model.ExternalId>Second &lt;one&gt;.</model.ExternalId>"
        b"</ModelState></Error>"
    )
    root = parse_xml(body)
    assert root[0].text == "The request is invalid."
    assert encode_error_xml("Gone & lost") == b"<Error><Message>Gone &amp; lost</Message></Error>"
    odd = encode_error_xml("bad\u0000", {"1 a:b": ["x"], "": ["y"], "_x0041_": ["z"]})
    root = parse_xml(odd)
    assert root[0].text == "bad\ufffd"
    assert [c.tag for c in root[1]] == ["_x0031__x0020_a_x003A_b", "_", "_x005F_x0041_"]


def test_encode_local_name() -> None:
    assert encode_local_name("model.Name") == "model.Name"
    assert encode_local_name("a[0]") == "a_x005B_0_x005D_"
    assert encode_local_name("-x") == "_x002D_x"
    assert encode_local_name("é_x") == "é_x"


# ---------------------------------------------------------------------- round trip

_XML_TEXT = st.characters(
    codec="utf-8",
    exclude_categories=("Cs",),
    exclude_characters="".join(chr(c) for c in range(32) if chr(c) not in "\t\n\r")
    + "\ufffe\uffff",
)
_OFFSETS = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
_DATETIMES = st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.one_of(st.just(UTC), _OFFSETS),
)
_DECIMALS = st.builds(
    lambda digits, places: Decimal(digits).scaleb(-places),
    st.integers(-(10**28), 10**28),
    st.integers(0, 28),
)


def _text(field: Field) -> st.SearchStrategy[str]:
    text = st.text(_XML_TEXT, max_size=min(max_length(field), 30))
    return text.filter(lambda s: bool(s.strip())) if field.required else text


def _value(field: Field) -> st.SearchStrategy[Any]:
    strategy: st.SearchStrategy[Any]
    if field.kind == "list":
        strategy = st.lists(_record(SUB_MODELS[field.model or ""]), max_size=3)
    else:
        strategy = {
            "string": lambda: _text(field),
            "bool": st.booleans,
            "int": lambda: st.integers(-(2**31), 2**31 - 1),
            "decimal": lambda: _DECIMALS,
            "datetime": lambda: _DATETIMES,
            "time": st.times,
            "bytes": lambda: st.binary(max_size=40),
            "strings": lambda: st.lists(_text(Field("Locations", "string")), max_size=3),
        }[field.kind]()
    return strategy if field.required else st.one_of(st.none(), strategy)


def _record(model: Model) -> st.SearchStrategy[dict[str, Any]]:
    fields = list(model.fields)
    if model.has_base:
        fields.insert(0, Field("ExternalId", "string", required=True))
    return st.fixed_dictionaries({f.name: _value(f) for f in fields})


@pytest.mark.parametrize("resource", sorted(MODELS))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_round_trip(resource: str, data: st.DataObject) -> None:
    model = MODELS[resource]
    record = data.draw(_record(model))
    identifier = data.draw(st.uuids())
    stored = {**record, "Id": identifier}
    from_json = decode_json(model, encode_json(model, stored))
    from_xml = decode_xml(model, encode_xml(model, stored))
    assert from_json == record
    assert from_xml == record
    assert encode_json(model, from_xml) == encode_json(model, record)
    for value in from_xml.values():
        if isinstance(value, datetime):
            assert value.tzinfo is not None


def test_round_trip_of_the_sample_keeps_offsets() -> None:
    shifted = timezone(timedelta(hours=-7))
    record = {**SAMPLE_ORDER, "Created": SAMPLE_INSTANT.astimezone(shifted)}
    for decoded in (
        decode_json(ORDERS, encode_json(ORDERS, record)),
        decode_xml(ORDERS, encode_xml(ORDERS, record)),
    ):
        assert decoded["Created"].utcoffset() == timedelta(hours=-7)
        assert decoded["OrderDetails"] == [SAMPLE_DETAIL, SAMPLE_DETAIL]
