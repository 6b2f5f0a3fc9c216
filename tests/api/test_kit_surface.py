"""A tiny test-only surface gets paging, its own error envelope, body and rate limits,
idempotency, order documents and its own webhook shape from the kit, with no code of its
own for any of them."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import pytest
from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select

from optihub.auth.resource import Principal, require_scopes
from optihub.db.base import utcnow
from optihub.db.models import Event, IdempotencyKey, WebhookDelivery
from optihub.events.relay import relay_events
from optihub.problems import Problem
from optihub.reads import documents
from optihub.reads import orders as order_reads
from optihub.reads.documents import Projection
from optihub.reads.order_views import OrderFilter
from optihub.services import orders, webhooks
from optihub.surfaces import kit
from optihub.web import DbSession, database
from tests import factories

router = APIRouter()
Reader = Annotated[Principal, Depends(require_scopes("orders:read"))]


class ToyError(BaseModel):
    problem: dict[str, Any]


class Echo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    words: str


@router.get("/orders")
def toy_orders(
    request: Request, principal: Reader, limit: kit.limit_param(5) = 2, offset: kit.Offset = 0
):
    practice_id = kit.single_practice(principal)
    with database(request).reading() as reader:
        page = order_reads.page(
            reader, practice_id, "toy", OrderFilter(), limit=limit, offset=offset
        )
    meta = orjson.dumps(kit.offset_page(page.total, limit, offset, len(page.items)))
    return kit.raw_json(kit.json_object(items=kit.json_array(page.items), meta=meta))


@router.post("/echo")
def toy_echo(
    body: Echo,
    principal: Reader,
    session: DbSession,
    idempotency_key: Annotated[str | None, Header()] = None,
):
    return kit.idempotent(
        session,
        practice_id=kit.single_practice(principal),
        client_id=principal.client_id,
        key=idempotency_key,
        request_fingerprint=kit.fingerprint("POST", "/echo", body.model_dump()),
        run=lambda: kit.json_response({"said": body.words, "at": utcnow().isoformat()}),
    )


@router.get("/{client_id}/orders")
def toy_orders_of(client_id: str, request: Request, principal: Reader):
    practice_id = kit.practice_from_path(
        client_id,
        principal,
        field="client_id",
        not_an_integer="client_id must be a practice number",
        not_granted="No access to practice {id}",
    )
    with database(request).reading() as reader:
        total = order_reads.page(reader, practice_id, "toy", OrderFilter(), limit=1, offset=0)
    return kit.json_response({"practice": practice_id, "total": total.total})


@router.post("/notes")
async def toy_notes(request: Request, principal: Reader):
    """XML or JSON in, XML or JSON out (content negotiation from the kit)."""
    body = await request.body()
    data = kit.xml_to_dict(kit.parse_xml(body)) if kit.is_xml(request) else orjson.loads(body)
    answer = {"heard": data, "by": principal.client_id}
    if kit.wants_xml(request.headers):
        return Response(kit.dict_to_xml("Heard", answer), media_type="application/xml")
    return kit.json_response(answer)


@router.get("/boom")
def toy_boom(principal: Reader):
    raise RuntimeError("SELECT secret FROM users")


def toy_envelope(problem: Problem) -> dict[str, Any]:
    return {"problem": {"kind": problem.code, "text": problem.message, "where": problem.field}}


TOY = kit.Surface(
    name="toy",
    prefix="/toy/v1",
    router=router,
    envelope=toy_envelope,
    error_model=ToyError,
    scopes={
        ("GET", "/orders"): "orders:read",
        ("POST", "/echo"): "orders:read",
        ("GET", "/boom"): "orders:read",
        ("GET", "/{client_id}/orders"): "orders:read",
        ("POST", "/notes"): "orders:read",
    },
    max_body=1024,
    rate_limit="5/minute",
    projection=Projection("toy", summary=lambda o: {"ref": o.number, "state": o.status}),
    webhooks=kit.WebhookShape(
        events=("order.created",),
        render=lambda _s, e: {"toy_event": e.type, "ref": e.data["number"]},
    ),
)


@pytest.fixture
def toy(app, db, issue_token):
    TOY.install(app)
    with db.transaction() as s:
        practice = factories.practice(s)
        placed = [
            orders.place_order(s, factories.actor(practice.id), orders.NewOrder()).number
            for _ in range(3)
        ]
    token = issue_token(practice.id, "orders:read", client_id="toy-app")
    with TestClient(app, raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client, practice.id, placed
    documents.unregister("toy")


def test_pages_come_from_stored_toy_documents(toy):
    client, _practice, placed = toy
    body = client.get("/toy/v1/orders", params={"limit": 2}).json()
    assert [o["ref"] for o in body["items"]] == placed[::-1][:2]
    assert body["meta"] == {"limit": 2, "offset": 0, "total": 3, "has_more": True}
    assert client.get("/toy/v1/orders", params={"offset": 2}).json()["items"] == [
        {"ref": placed[0], "state": "received"}
    ]


@pytest.mark.parametrize(
    ("request_args", "status", "kind", "where"),
    [
        (
            {"method": "GET", "url": "/toy/v1/orders", "params": {"offset": 10**30}},
            400,
            "invalid_request",
            "offset",
        ),
        (
            {"method": "GET", "url": "/toy/v1/orders", "params": {"limit": 6}},
            400,
            "invalid_request",
            "limit",
        ),
        ({"method": "GET", "url": "/toy/v1/nowhere"}, 404, "not_found", None),
        (
            {
                "method": "POST",
                "url": "/toy/v1/echo",
                "content": b"{nope",
                "headers": {"Content-Type": "application/json"},
            },
            400,
            "invalid_json",
            "body",
        ),
        (
            {"method": "POST", "url": "/toy/v1/echo", "json": {"words": "hi", "x": 1}},
            400,
            "invalid_request",
            "x",
        ),
        (
            {"method": "POST", "url": "/toy/v1/echo", "json": {"words": "a" * 2000}},
            413,
            "payload_too_large",
            "body",
        ),
    ],
)
def test_every_failure_speaks_the_toy_envelope(toy, request_args, status, kind, where):
    client, _practice, _placed = toy
    response = client.request(**request_args)
    assert response.status_code == status
    assert response.json() == {
        "problem": {"kind": kind, "text": response.json()["problem"]["text"], "where": where}
    }


def test_auth_failures_and_500s_speak_the_toy_envelope(toy):
    client, _practice, _placed = toy
    anonymous = client.get("/toy/v1/orders", headers={"Authorization": ""})
    assert anonymous.status_code == 401
    assert anonymous.json()["problem"]["kind"] == "invalid_token"
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    boom = client.get("/toy/v1/boom")
    assert boom.status_code == 500
    assert boom.json()["problem"]["kind"] == "internal_error"
    assert boom.headers["x-request-id"] in boom.json()["problem"]["text"]
    assert "SELECT" not in boom.text


def test_rate_limit_per_client_and_module(toy):
    client, _practice, _placed = toy
    statuses = [client.get("/toy/v1/orders").status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    limited = client.get("/toy/v1/orders")
    assert limited.json()["problem"]["kind"] == "rate_limited"
    assert int(limited.headers["retry-after"]) >= 1
    # another module has its own budget
    assert client.post("/toy/v1/echo", json={"words": "hi"}).status_code == 200


def test_idempotency_replays_and_refuses_a_different_body(toy, db):
    client, _practice, _placed = toy
    first = client.post("/toy/v1/echo", json={"words": "hi"}, headers={"Idempotency-Key": "k1"})
    again = client.post("/toy/v1/echo", json={"words": "hi"}, headers={"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    other = client.post("/toy/v1/echo", json={"words": "ho"}, headers={"Idempotency-Key": "k1"})
    assert other.status_code == 400
    assert other.json()["problem"] == {
        "kind": "idempotency_error",
        "text": other.json()["problem"]["text"],
        "where": "Idempotency-Key",
    }
    with db.reading() as reader:
        assert reader.scalar(select(func.count()).select_from(IdempotencyKey)) == 1


def test_toy_subscribers_get_events_in_the_toy_shape(toy, app, db):
    _client, practice_id, placed = toy
    with db.transaction() as s:
        webhooks.create_subscription(
            s,
            factories.actor(practice_id),
            surface="toy",
            url="http://127.0.0.1:9/hook",
            events=["order.created"],
            enabled=True,
            description=None,
            key=app.state.instance_key,
            allowed_hosts=("127.0.0.0/8",),
            event_types=TOY.webhooks.events,
        )
    with db.transaction() as s:
        relay_events(s, utcnow(), app.state.surfaces.webhook_renderers())
    with db.reading() as reader:
        bodies = sorted(
            orjson.loads(p)["ref"] for p in reader.scalars(select(WebhookDelivery.payload))
        )
        assert reader.scalar(select(func.count()).select_from(Event)) == 3
    assert bodies == sorted(placed)


def test_practice_from_the_path_must_be_granted(toy, db):
    client, practice_id, placed = toy
    with db.transaction() as s:
        other = factories.practice(s, "Elsewhere Optical").id
    mine = client.get(f"/toy/v1/{practice_id}/orders")
    assert mine.status_code == 200
    assert mine.json() == {"practice": practice_id, "total": len(placed)}
    foreign = client.get(f"/toy/v1/{other}/orders")
    assert foreign.status_code == 403
    assert foreign.json()["problem"]["text"] == f"No access to practice {other}"
    word = client.get("/toy/v1/harbor/orders")
    assert word.status_code == 400
    assert word.json()["problem"] == {
        "kind": "invalid_practice_id",
        "text": "client_id must be a practice number",
        "where": "client_id",
    }


def test_xml_in_and_out_by_content_negotiation(toy):
    client, _practice, _placed = toy
    xml = b"<Note xmlns='urn:toy'><Words>hi</Words><Tag>a</Tag><Tag>b</Tag></Note>"
    as_json = client.post("/toy/v1/notes", content=xml, headers={"Content-Type": "text/xml"})
    assert as_json.json() == {"heard": {"Words": "hi", "Tag": ["a", "b"]}, "by": "toy-app"}
    as_xml = client.post(
        "/toy/v1/notes",
        json={"words": "hi", "gone": None},
        headers={"Accept": "application/json;q=0.5, application/xml"},
    )
    assert as_xml.headers["content-type"].startswith("application/xml")
    assert kit.xml_to_dict(kit.parse_xml(as_xml.content)) == {
        "heard": {"words": "hi", "gone": None},
        "by": "toy-app",
    }


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><lolz>&lol3;</lolz>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"""


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (BILLION_LAUGHS, "DTD"),
        (EXTERNAL_ENTITY, "DTD"),
        (b"<open><unclosed></open>", "well-formed"),
        (b"\xff\xfe<a/>", "well-formed"),
        # XML cannot carry half of a surrogate pair: not as a reference, not as bytes.
        (b"<a>&#xD800;</a>", "well-formed"),
        (b"<a>\xed\xa0\x80</a>", "well-formed"),
    ],
)
def test_hostile_or_broken_xml_is_400_in_the_toy_envelope(toy, body, text):
    client, _practice, _placed = toy
    response = client.post(
        "/toy/v1/notes", content=body, headers={"Content-Type": "application/xml"}
    )
    assert response.status_code == 400
    problem = response.json()["problem"]
    assert problem["kind"] == "invalid_xml"
    assert text in problem["text"]
    assert "passwd" not in response.text and "root:" not in response.text


@pytest.mark.parametrize(
    ("path", "body", "where"),
    [
        # /notes decodes its own body; /echo reads a model and fingerprints it (idempotency).
        ("/toy/v1/notes", b'{"words": ["fine", "half \\ud800"]}', "words.1"),
        ("/toy/v1/notes", b'{"words": "\xed\xa0\x80"}', "words"),
        ("/toy/v1/echo", b'{"words": "\\udc00"}', "words"),
        ("/toy/v1/echo", b'{"words": -1e-999999999}', "words"),
        ("/toy/v1/notes", b'{"amount": 1e-400}', "amount"),
    ],
)
def test_json_no_field_can_take_is_400_in_the_toy_envelope(toy, db, path, body, where):
    client, _practice, _placed = toy
    response = client.post(
        path,
        content=body,
        headers={"Content-Type": "application/json", "Idempotency-Key": "text-1"},
    )
    assert response.status_code == 400, response.text
    problem = response.json()["problem"]
    assert problem["kind"] == "invalid_request"
    assert problem["where"] == where
    assert problem["text"].startswith(f"{where}: ")
    with db.reading() as reader:
        assert reader.scalar(select(func.count()).select_from(IdempotencyKey)) == 0
