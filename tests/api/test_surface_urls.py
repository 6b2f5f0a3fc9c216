"""Webhook URLs on every surface that takes one (``optihub.surfaces.SURFACES``): one rule
for all, decided by the webhook service (``events.addresses``).

A route takes a URL when its documented JSON body has a top-level property named ``url``
or ``*_url``, or of format ``uri``. For every such route:

* malformed URLs (control characters, spaces, backslashes, ports outside 1–65535, an IPv4
  address in brackets) are a 400 naming the field in the surface's envelope, and nothing
  is written;
* a URL is stored in its normal form;
* hosts that are, or resolve to, non-global addresses (IPv6 forms embedding private or
  link-local IPv4, multicast) are refused naming the field, and nothing is written; the
  operator's allow-list still lets them through.

A new route taking a URL needs one line here: its ``SAMPLES`` entry (the rest of a body
it accepts). A route without one fails ``test_every_url_route_has_a_sample``.
"""

from __future__ import annotations

import ipaddress
import tempfile
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from optihub.db.models import WebhookSubscription
from optihub.services import webhooks
from optihub.surfaces import SURFACES
from tests import factories
from tests.api import test_surfaces as shared
from tests.api.test_surfaces import BY_NAME, all_scopes, in_envelope, table_counts

# The shared surface checks' fixtures: a practice with a user, and a caller of any surface.
caller = shared.caller
call = shared.call

PUBLIC_ADDRESS = "93.184.215.14"
# Names under this domain resolve to PUBLIC_ADDRESS (this machine has no outside DNS);
# REBOUND resolves to whatever address a test sets.
PUBLIC_DOMAIN = ".example.com"
REBOUND = "inward.example.net"


@dataclass(frozen=True)
class Sample:
    """The rest of a body the route accepts, and whether the route stores the URL."""

    body: dict[str, Any]
    stores: bool = True


SAMPLES: dict[tuple[str, str, str], Sample] = {
    ("partner", "POST", "/webhooks"): Sample({"events": ["*"]}),
    ("partner", "PATCH", "/webhooks/{webhook_id}"): Sample({}),
    ("fulfillment", "POST", "/notifications"): Sample({"event_codes": "all"}),
    ("fulfillment", "PUT", "/notifications/webhooks/{webhook_id}"): Sample({}),
    # Names one of the practice's subscriptions; stores nothing.
    ("fulfillment", "POST", "/notifications/sample"): Sample(
        {"event_code": "order.created"}, stores=False
    ),
}


def _openapi() -> dict[str, Any]:
    """The app's OpenAPI document (building it needs no database)."""
    from optihub.app import create_app
    from optihub.settings import Settings

    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings.from_env(
            {
                "OPTIHUB_DATABASE_URL": "sqlite://",
                "OPTIHUB_DATA_DIR": data_dir,
                "OPTIHUB_PUBLIC_URL": "http://testserver",
                "OPTIHUB_RUN_WORKER": "false",
            }
        )
        return create_app(settings).openapi()


def _url_routes() -> list[tuple[str, str, str, str]]:
    """(surface, method, path below its prefix, field) of every documented URL field."""
    document = _openapi()
    found = []
    for full_path, operations in document["paths"].items():
        owner = next((s for s in SURFACES if s.owns(full_path)), None)
        if owner is None:
            continue
        for method, operation in operations.items():
            for media in operation.get("requestBody", {}).get("content", {}).values():
                schema = media.get("schema", {})
                if "$ref" in schema:
                    schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
                for name, prop in schema.get("properties", {}).items():
                    formats = {prop.get("format")} | {
                        a.get("format") for a in prop.get("anyOf", [])
                    }
                    if name == "url" or name.endswith("_url") or "uri" in formats:
                        path = full_path[len(owner.prefix) :]
                        found.append((owner.name, method.upper(), path, name))
    return sorted(set(found))


URL_ROUTES = _url_routes()
ROUTES = [pytest.param(*route, id=" ".join(route)) for route in URL_ROUTES]
STORING = [p for p in ROUTES if SAMPLES.get(p.values[:3], Sample({})).stores]

MALFORMED = {
    "crlf": "https://hooks.example.com/x\r\nX: 1",
    "lf": "https://hooks.example.com/x\nX: 1",
    "tab": "https://hooks.example.com/x\tx",
    "nul": "https://hooks.example.com/\x00",
    "del": "https://hooks.example.com/\x7f",
    "space": "https://hooks.example.com/a b",
    "nbsp": "https://hooks.example.com/\u00a0",
    "backslash-host": "https://hooks.example.com\\x",
    "backslash-path": "https://hooks.example.com/a\\b",
    "port-0": "https://hooks.example.com:0/",
    "port-65536": "https://hooks.example.com:65536/",
    "port-70000": "https://hooks.example.com:70000/",
    "port-negative": "https://hooks.example.com:-1/",
    "bracketed-ipv4": "https://[1.2.3.4]/",
}

# IPv6 forms embedding private, loopback or link-local IPv4, and IPv4 multicast.
NON_GLOBAL = [
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254 (cloud metadata)
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "64:ff9b:1::a00:1",  # local-use NAT64 prefix
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::",  # 6to4 of 169.254.169.254
    "::7f00:1",  # IPv4-compatible 127.0.0.1
    "::ffff:0:7f00:1",  # IPv4-translated 127.0.0.1
    "::ffff:7f00:1",  # IPv4-mapped 127.0.0.1
    "224.0.0.1",  # multicast
    "ff0e::1",  # IPv6 global-scope multicast
]


def literal(address: str) -> str:
    host = f"[{address}]" if ipaddress.ip_address(address).version == 6 else address
    return f"https://{host}/hook"


@pytest.fixture(autouse=True)
def dns(monkeypatch) -> dict[str, list[str]]:
    """Stand-in DNS for the webhook service: PUBLIC_DOMAIN names are public, REBOUND
    answers what the test puts in ``dns[REBOUND]``; literals resolve as themselves."""
    answers: dict[str, list[str]] = {REBOUND: [PUBLIC_ADDRESS]}
    real = webhooks.resolve

    def resolve(host: str, port: int) -> list[str]:
        if host in answers:
            return answers[host]
        if host.endswith(PUBLIC_DOMAIN):
            return [PUBLIC_ADDRESS]
        return real(host, port)

    monkeypatch.setattr(webhooks, "resolve", resolve)
    return answers


@pytest.fixture
def concrete(app, db, caller):
    """``concrete(surface, path)``: the path with a ``{webhook_id}`` replaced by a
    subscription of that surface (to an allow-listed address), made now."""

    def path_of(name: str, path: str) -> str:
        if "{webhook_id}" not in path:
            return path
        with db.transaction() as s:
            made, _ = webhooks.create_subscription(
                s,
                factories.actor(caller.practice_id),
                surface=name,
                url="http://127.0.0.1:9/existing",
                events=["*"],
                enabled=True,
                description=None,
                key=app.state.instance_key,
                allowed_hosts=("127.0.0.0/8",),
            )
        return path.replace("{webhook_id}", str(made.id))

    return path_of


@pytest.fixture
def send(call, concrete):
    """``send(surface, method, path, field, url)`` → (response, stored URLs before it):
    the route's sample body with ``field`` set to ``url``."""

    def request(name: str, method: str, path: str, field: str, url: str) -> Any:
        surface = BY_NAME[name]
        body = {**SAMPLES[(name, method, path)].body, field: url}
        return call(surface, method, concrete(name, path), scopes=all_scopes(surface), json=body)

    return request


def stored_urls(db) -> list[str]:
    with db.reading() as reader:
        return sorted(reader.scalars(select(WebhookSubscription.url)))


def named_fields(body: Any) -> set[str]:
    """Every field an error body names (under a ``field`` key, at any depth)."""
    if isinstance(body, dict):
        found = {str(v) for k, v in body.items() if k == "field" and v is not None}
        return found.union(*(named_fields(v) for v in body.values()))
    if isinstance(body, list):
        return set().union(*(named_fields(v) for v in body))
    return set()


def test_the_surfaces_taking_urls_are_found():
    """A guard against the enumeration silently finding nothing."""
    names = {(name, method, path) for name, method, path, _ in URL_ROUTES}
    assert {
        ("partner", "POST", "/webhooks"),
        ("partner", "PATCH", "/webhooks/{webhook_id}"),
        ("fulfillment", "POST", "/notifications"),
        ("fulfillment", "PUT", "/notifications/webhooks/{webhook_id}"),
    } <= names


def test_every_url_route_has_a_sample():
    missing = {route[:3] for route in URL_ROUTES} - set(SAMPLES)
    assert not missing, f"add a SAMPLES entry for {missing}"


@pytest.mark.parametrize(("name", "method", "path", "field"), ROUTES)
def test_malformed_urls_are_400_naming_the_field_and_write_nothing(
    db, call, concrete, name, method, path, field
):
    surface = BY_NAME[name]
    target = concrete(name, path)
    before, urls = table_counts(db), stored_urls(db)
    wrong = {}
    for label, url in MALFORMED.items():
        body = {**SAMPLES[(name, method, path)].body, field: url}
        response = call(surface, method, target, scopes=all_scopes(surface), json=body)
        if response.status_code != 400 or field not in named_fields(response.json()):
            wrong[label] = f"{response.status_code} {response.text}"
            continue
        in_envelope(surface, response, 400)
    assert not wrong, wrong
    assert table_counts(db) == before
    assert stored_urls(db) == urls


NORMAL_FORMS = [
    pytest.param(
        "HTTPS://Hooks.Example.COM:443/a/./b/../c?x=1#frag",
        "https://hooks.example.com/a/c?x=1",
        id="case-default-port-dots-fragment",
    ),
    pytest.param("https://hooks.example.com", "https://hooks.example.com/", id="empty-path"),
    pytest.param(
        "https://hooks.example.com:8443/caf\u00e9",
        "https://hooks.example.com:8443/caf%C3%A9",
        id="non-ascii-path",
    ),
]


@pytest.mark.parametrize(("url", "normal"), NORMAL_FORMS)
@pytest.mark.parametrize(("name", "method", "path", "field"), STORING)
def test_urls_are_stored_in_their_normal_form(send, db, name, method, path, field, url, normal):
    response = send(name, method, path, field, url)
    assert response.status_code in {200, 201}, response.text
    assert response.json()[field] == normal
    assert normal in stored_urls(db)
    assert url not in stored_urls(db)


@pytest.mark.parametrize(("name", "method", "path", "field"), STORING)
def test_non_global_addresses_are_refused_and_write_nothing(
    db, call, concrete, dns, name, method, path, field
):
    surface = BY_NAME[name]
    target = concrete(name, path)
    before, urls = table_counts(db), stored_urls(db)
    accepted = {}
    for address in NON_GLOBAL:
        dns[REBOUND] = [PUBLIC_ADDRESS, address]  # one inward answer among public ones
        for url in (literal(address), f"https://{REBOUND}/hook"):
            body = {**SAMPLES[(name, method, path)].body, field: url}
            response = call(surface, method, target, scopes=all_scopes(surface), json=body)
            if response.status_code not in {400, 422} or "non-public" not in response.text:
                accepted[url if REBOUND not in url else f"{url} -> {address}"] = response.text
                continue
            in_envelope(surface, response, (400, 422))
            assert field in named_fields(response.json()), response.text
    assert not accepted, accepted
    assert table_counts(db) == before
    assert stored_urls(db) == urls


@pytest.mark.parametrize(("name", "method", "path", "field"), STORING)
def test_nat64_and_6to4_of_a_public_address_are_accepted(send, name, method, path, field):
    """Only the embedded address decides: an IPv6-only receiver behind NAT64 is fine."""
    for address in ("64:ff9b::5db8:d70e", "2002:5db8:d70e::1"):  # 93.184.215.14
        response = send(name, method, path, field, literal(address))
        assert response.status_code in {200, 201}, response.text


@pytest.mark.parametrize(("name", "method", "path", "field"), STORING)
def test_the_operator_allow_list_still_lets_them_through(app, send, dns, name, method, path, field):
    app.state.settings = app.state.settings.__class__(
        **{**vars(app.state.settings), "webhook_allowed_hosts": ("64:ff9b::/96", REBOUND)}
    )
    dns[REBOUND] = ["10.20.0.5"]
    for url in (literal("64:ff9b::a00:1"), f"https://{REBOUND}/hook", f"http://{REBOUND}/x"):
        response = send(name, method, path, field, url)
        assert response.status_code in {200, 201}, response.text
