"""The API reference works without the internet: every asset comes from this server. The
OpenAPI document declares how to get a token for each operation (and the scopes it checks),
tags each operation with its dialect's resource and marks required headers required; each
dialect has a document and a page of its own."""

from __future__ import annotations

import json
import re
import uuid
from html import unescape
from typing import Any

import pytest
import schemathesis

from optihub.apidocs import AUTHORIZATION_CODE, BEARER, CLIENT_CREDENTIALS
from optihub.auth.resource import route_scopes
from optihub.domain.scopes import IMPLIED, SCOPES
from optihub.services import users
from optihub.surfaces import SURFACES
from tests import factories
from tests.fuzz.test_openapi import openapi_document

ATTRIBUTE = re.compile(r"""\b(src|href)\s*=\s*["']([^"']*)["']""", re.IGNORECASE)
# The elements that load something (the pages' links to each other are ``<a>``).
ASSET = re.compile(r"<(?:script|link)\b[^>]*>", re.IGNORECASE)


def referenced(html: str) -> list[tuple[str, str]]:
    """(attribute, URL) of every asset the page loads."""
    return [found for tag in ASSET.findall(html) for found in ATTRIBUTE.findall(tag)]


def test_docs_page_references_only_this_server(client):
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "http://" not in html
    assert "https://" not in html
    links = referenced(html)
    assert links, "the page references no asset"
    for _attribute, url in links:
        assert url, "empty src/href"
        assert not url.startswith("//"), f"protocol-relative URL {url}"
        assert ":" not in url.split("/", 1)[0], f"URL with a scheme: {url}"
    assert "/openapi.json" in html


def test_every_asset_of_the_docs_page_is_served(client):
    links = referenced(client.get("/docs").text)
    kinds = {"script": "javascript", "stylesheet": "text/css", "icon": "image/"}
    seen = set()
    for attribute, url in links:
        if attribute.lower() == "src":
            kind = "script"
        elif url.endswith(".css"):
            kind = "stylesheet"
        else:
            kind = "icon"
        response = client.get(url)
        assert response.status_code == 200, url
        assert kinds[kind] in response.headers["content-type"], (url, response.headers)
        assert response.content
        seen.add(kind)
    assert {"script", "stylesheet"} <= seen


def test_openapi_document_and_oauth2_redirect_page_are_served(client):
    assert client.get("/openapi.json").status_code == 200
    redirect = client.get("/docs/oauth2-redirect")
    assert redirect.status_code == 200
    assert "https://" not in redirect.text
    assert "http://" not in redirect.text


def test_the_cdn_pages_are_gone(client):
    assert client.get("/redoc").status_code == 404
    paths = client.get("/openapi.json").json()["paths"]
    assert not any(path.startswith("/docs") for path in paths)


# -- the described document ----------------------------------------------------------------
# docs/testing.md ("The OpenAPI document and the API reference"): what the document says
# about tokens, tags and headers, checked against what the routes do.

DIALECTS = [surface.name for surface in SURFACES]
SCHEMES = {AUTHORIZATION_CODE, CLIENT_CREDENTIALS, BEARER}
# The member of staff the lab-order API's `User-Email` names in these calls.
STAFF = "checks@example.com"


def operations_of(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in {"get", "put", "post", "patch", "delete"}
    ]


def oauth_alternatives(operation: dict[str, Any]) -> list[list[str]]:
    """The scope sets an operation's OAuth requirements name, each once."""
    found: list[list[str]] = []
    for requirement in operation["security"]:
        for scheme, scopes in requirement.items():
            if scheme != BEARER and sorted(scopes) not in found:
                found.append(sorted(scopes))
    return found


def declared_scopes(operation: dict[str, Any]) -> set[str]:
    """The scopes the operation needs: those of its bearer-token requirement."""
    return {s for r in operation["security"] for n, ss in r.items() if n == BEARER for s in ss}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi_document()


def test_security_schemes_are_optihubs_authorization_server(client):
    document = client.get("/openapi.json").json()
    metadata = client.get("/.well-known/oauth-authorization-server").json()
    schemes = document["components"]["securitySchemes"]
    assert set(schemes) == SCHEMES
    code = schemes[AUTHORIZATION_CODE]["flows"]["authorizationCode"]
    assert code["authorizationUrl"] == metadata["authorization_endpoint"]
    assert code["tokenUrl"] == code["refreshUrl"] == metadata["token_endpoint"]
    assert set(code["scopes"]) == set(metadata["scopes_supported"])
    assert all(code["scopes"].values()), "every scope described in words"
    credentials = schemes[CLIENT_CREDENTIALS]["flows"]["clientCredentials"]
    assert credentials["tokenUrl"] == metadata["token_endpoint"]
    assert set(credentials["scopes"]) == set(metadata["scopes_supported"]) - {
        "openid",
        "email",
        "profile",
    }
    assert schemes[BEARER] | {"description": ""} == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "",
    }


def test_every_operation_declares_security_from_its_routes_scopes(app, document):
    enforced = route_scopes(app.routes)
    assert operations_of(document)
    for path, method, operation in operations_of(document):
        label = f"{method.upper()} {path}"
        assert "security" in operation, label
        required = set(enforced[(method.upper(), path)])
        if not required:
            # No scope: no token (the refresh call takes its refresh token as the bearer).
            expected = [{BEARER: []}] if path == "/fulfillment/v1/auth/refresh" else []
            assert operation["security"] == expected, label
            continue
        assert declared_scopes(operation) == required, label
        for scopes in oauth_alternatives(operation):
            # Each alternative is the scope or one that implies it, for every required one.
            assert len(scopes) == len(required), label
            assert all(s in required or IMPLIED.get(s, frozenset()) & required for s in scopes), (
                label
            )
        schemes = {name for r in operation["security"] for name in r}
        owner = app.state.surfaces.owner(path)
        assert BEARER in schemes and schemes <= SCHEMES, label
        if owner is not None and owner.name in {"labs", "portal"}:
            assert AUTHORIZATION_CODE not in schemes, label  # their apps use client credentials


def test_a_scope_a_broader_one_implies_is_offered_with_it(document):
    listing = document["paths"]["/api/v1/partner/orders"]["get"]
    assert oauth_alternatives(listing) == [["orders:read"], ["orders:full"]]
    change = document["paths"]["/api/v1/partner/orders/{order_id}"]["patch"]
    assert oauth_alternatives(change) == [["orders:full"]]


def test_routes_that_take_no_token_say_so(document):
    for path, method in [
        ("/oauth/token", "post"),
        ("/v1/oauth/token", "post"),
        ("/api/token", "post"),
        ("/token", "post"),
        ("/fulfillment/v1/auth/login", "post"),
        ("/.well-known/openid-configuration", "get"),
    ]:
        assert document["paths"][path][method]["security"] == [], path


def test_every_operation_has_a_resource_tag_listed_in_order(app, document):
    listed = [tag["name"] for tag in document["tags"]]
    assert len(listed) == len(set(listed))
    used = set()
    for path, method, operation in operations_of(document):
        tags = operation.get("tags")
        assert tags and "default" not in tags, f"{method} {path}"
        used.update(tags)
        owner = app.state.surfaces.owner(path)
        if owner is not None:
            assert len(tags) == 1 and tags[0].startswith(owner.name.capitalize() + " · "), path
    assert used == set(listed)
    portal = {
        operation["tags"][0]
        for path, _method, operation in operations_of(document)
        if app.state.surfaces.owner(path) is not None
        and app.state.surfaces.owner(path).name == "portal"
    }
    assert {"Portal · Patients", "Portal · Orders", "Portal · Locations"} <= portal
    assert document["paths"]["/api/locations/search"]["get"]["tags"] == ["Portal · Locations"]
    assert document["paths"]["/fulfillment/v1/search/orders"]["get"]["tags"] == [
        "Fulfillment · Orders"
    ]
    assert document["paths"]["/v2/{client_id}/patients/{id}"]["get"]["tags"] == [
        "Practice · Patients"
    ]


def test_the_user_email_header_is_required_in_the_document(document):
    checked = 0
    for path, _method, operation in operations_of(document):
        if not path.startswith("/v1/") or path == "/v1/oauth/token":
            continue
        [header] = [p for p in operation["parameters"] if p["name"] == "User-Email"]
        assert header["in"] == "header" and header["required"] is True, path
        assert header["schema"]["type"] == "string", path
        assert "x-optihub-required" not in json.dumps(operation), path
        checked += 1
    assert checked == 7


@pytest.mark.storage_independent
def test_a_missing_user_email_is_still_refused_by_the_route_in_its_envelope(
    client, issue_token, practice_with_staff
):
    token = issue_token(practice_with_staff, "lab_catalog:read")
    for headers in ({}, {"User-Email": " "}):
        response = client.get("/v1/labs", headers={"Authorization": f"Bearer {token}", **headers})
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert (error["type"], error["code"], error["param"]) == (
            "invalid_request_error",
            "parameter_missing",
            "User-Email",
        )


# -- the declared scopes are the enforced ones ----------------------------------------------


@pytest.fixture
def practice_with_staff(db) -> int:
    with db.transaction() as s:
        practice = factories.practice(s, "Checks Optical")
        users.create_user(
            s, email=STAFF, password="checks-password-1", practice_id=practice.id, role="staff"
        )
    return practice.id


def scoped_operations() -> list[Any]:
    document = openapi_document()
    return [
        pytest.param(method, path, id=f"{method.upper()} {path}")
        for path, method, operation in operations_of(document)
        if declared_scopes(operation)
    ]


def call_with(client, issue_token, practice_id: int, method: str, path: str, scopes: str):
    token = issue_token(practice_id, scopes, client_id="docs-checks")
    url = re.sub(
        r"\{(\w+)\}",
        lambda m: str(practice_id) if m.group(1) == "client_id" else str(uuid.uuid4()),
        path,
    )
    # Every dialect ignores a header it does not read: the lab-order API's acting user.
    headers = {"Authorization": f"Bearer {token}", "User-Email": STAFF}
    return client.request(method.upper(), url, headers=headers)


@pytest.mark.storage_independent
@pytest.mark.parametrize(("method", "path"), scoped_operations())
def test_without_a_declared_scope_the_route_answers_403(
    client, issue_token, practice_with_staff, document, method, path
):
    operation = document["paths"][path][method]
    needed = declared_scopes(operation)
    broader = {b for b, narrower in IMPLIED.items() if narrower & needed}
    every = {scope.name for scope in SCOPES}
    response = call_with(
        client,
        issue_token,
        practice_with_staff,
        method,
        path,
        " ".join(sorted(every - needed - broader)),
    )
    assert response.status_code == 403, response.text


@pytest.mark.parametrize(("method", "path"), scoped_operations())
def test_with_each_declared_scope_set_the_route_does_not_answer_403(
    client, issue_token, practice_with_staff, document, method, path
):
    for scopes in oauth_alternatives(document["paths"][path][method]):
        response = call_with(
            client, issue_token, practice_with_staff, method, path, " ".join(scopes)
        )
        assert response.status_code != 403, (scopes, response.text)
        assert response.status_code < 500, (scopes, response.text)


# -- one document and one page per dialect --------------------------------------------------


def refs_in(value: Any) -> set[str]:
    if isinstance(value, dict):
        found = {value["$ref"]} if isinstance(value.get("$ref"), str) else set()
        return found.union(*(refs_in(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(refs_in(v) for v in value))
    return set()


@pytest.mark.parametrize("name", DIALECTS)
def test_each_dialect_has_a_valid_document_of_its_own_operations(app, client, name):
    whole = client.get("/openapi.json").json()
    response = client.get(f"/openapi/{name}.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    own = response.json()
    schemathesis.openapi.from_dict(own).validate()  # the OpenAPI 3.1 meta-schema
    surface = next(s for s in SURFACES if s.name == name)
    owner = app.state.surfaces.owner
    assert set(own["paths"]) == {p for p in whole["paths"] if owner(p) is surface}
    assert own["paths"]
    for path, method, operation in operations_of(own):
        assert operation == whole["paths"][path][method]
    # Every reference resolves inside the document, and it holds nothing unused.
    schemas = own["components"].get("schemas", {})
    refs = refs_in(own["paths"]) | refs_in(schemas)
    assert {ref.rsplit("/", 1)[1] for ref in refs} == set(schemas)
    assert all(ref.startswith("#/components/schemas/") for ref in refs)
    used = {n for _, _, op in operations_of(own) for r in op["security"] for n in r}
    assert used == set(own["components"]["securitySchemes"])
    assert {t["name"] for t in own["tags"]} == {op["tags"][0] for _, _, op in operations_of(own)}
    assert name in own["info"]["title"].lower() or surface.title in own["info"]["title"]


def test_the_dialect_documents_together_are_the_whole_but_the_oauth_server(client):
    whole = client.get("/openapi.json").json()
    parts = set()
    for name in DIALECTS:
        paths = set(client.get(f"/openapi/{name}.json").json()["paths"])
        assert not paths & parts, name
        parts |= paths
    assert set(whole["paths"]) - parts == {
        p for p in whole["paths"] if p.startswith(("/oauth/", "/.well-known/"))
    }


def test_the_whole_document_validates(client):
    schemathesis.openapi.from_dict(client.get("/openapi.json").json()).validate()


@pytest.mark.parametrize("name", DIALECTS)
def test_each_dialect_page_shows_its_document_with_only_this_servers_assets(client, name):
    response = client.get(f"/docs/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    html = response.text
    assert "http://" not in html and "https://" not in html
    assert "<style" not in html and " style=" not in html
    assert re.search(r"<script(?![^>]*\bsrc=)", html) is None, "an inline script"
    for _attribute, url in referenced(html):
        assert url.startswith("/"), url
        assert not url.startswith("//"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
    config = json.loads(unescape(re.search(r'data-config="([^"]*)"', html)[1]))
    assert config["url"] == f"/openapi/{name}.json"
    assert config["oauth2RedirectUrl"] == "/docs/oauth2-redirect"
    assert config["initOAuth"]["usePkceWithAuthorizationCodeGrant"] is True
    assert f'<a href="/docs/{name}" aria-current="page">' in html


def test_unknown_dialects_have_no_page_or_document(client):
    assert client.get("/docs/nope").status_code == 404
    assert client.get("/openapi/nope.json").status_code == 404
    assert client.get("/docs/init.js").headers["content-type"].startswith("text/javascript")
