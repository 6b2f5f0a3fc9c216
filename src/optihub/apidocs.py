"""The OpenAPI documents and the interactive API reference (Swagger UI), served from the
installed package.

FastAPI's default ``/docs`` and ``/redoc`` pages load their scripts and styles from a CDN,
so on a clinic's private network they stay blank. Here Swagger UI's files come from the
``swagger-ui-bundle-v2`` package (Swagger UI 5, which renders OpenAPI 3.1) and are served
under ``/docs/static``; the pages reference nothing outside this server. ReDoc is not
offered: no package ships it for offline use alongside Swagger UI.

The pages run no inline script and no inline style (the content security policy every
response carries allows only scripts and stylesheets this server serves): Swagger UI is
started by ``/docs/init.js`` (``apidocs.js``), which reads its settings from the page, the
pages' own few rules are ``/docs/apidocs.css``, and the OAuth2 redirect page loads Swagger
UI's own ``oauth2-redirect.js``.

What the document says beyond FastAPI's (``describe``, on the first build):

* ``components.securitySchemes``: OAuth 2 authorization code (PKCE) and client credentials
  at OptiHub's own authorization server (the issuer's ``/oauth/authorize`` and
  ``/oauth/token``), and a plain bearer token (what a dialect's own token call returns).
* Each operation's ``security``, from the scopes its route's dependencies require
  (``auth.resource.route_scopes``, the table the surfaces' scope check reads), so a new
  route is described as it is enforced; a scope a broader one implies
  (``domain.scopes.IMPLIED``) is offered with the broader one as an alternative. A route
  without a scope requirement takes no token: ``security: []``, unless its decorator
  declares its own ``security`` (``openapi_extra``: the fulfillment refresh call takes its
  refresh token as the bearer, ``[{"bearerToken": []}]``).
* A tag per resource of each dialect ("Portal · Patients"), from the path below the
  dialect's prefix, with the tags listed in order.
* Headers a route refuses to go without, declared optional to the framework so the route
  answers their absence in its dialect's envelope, as required: a parameter whose
  ``json_schema_extra`` holds ``{"x-optihub-required": true}`` (``REQUIRED_MARK``).

This module knows the app through what it reads at run time (its routes,
``app.state.surfaces`` and ``app.state.settings``), the scope registry and the route scope
table; no dialect imports it.

Beside the whole (``/openapi.json``, ``/docs``) each installed dialect has its own
document, ``/openapi/<dialect>.json``, holding only its operations, the schemas they use
and the security schemes its callers use, and its own page, ``/docs/<dialect>``.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
from collections.abc import Collection, Iterable, Iterator
from html import escape
from pathlib import Path
from typing import Any, Protocol

from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.openapi.docs import swagger_ui_default_parameters
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from optihub.auth.resource import route_scopes
from optihub.domain.scopes import IMPLIED, SCOPES, Scope

DOCS_URL = "/docs"
STATIC_URL = "/docs/static"
INIT_URL = "/docs/init.js"
STYLE_URL = "/docs/apidocs.css"
DIALECT_DOCUMENT_URL = "/openapi/{dialect}.json"
INIT_SCRIPT = (Path(__file__).parent / "apidocs.js").read_bytes()

# The security schemes (``components.securitySchemes`` names).
AUTHORIZATION_CODE = "authorizationCode"
CLIENT_CREDENTIALS = "clientCredentials"
BEARER = "bearerToken"
# How each dialect's callers get their token (docs/<dialect>-api.md): the OAuth grants its
# operations list. Every operation also takes a plain bearer token (``BEARER``): what the
# dialect's own token call returns (labs, portal, fulfillment) or any OptiHub access token.
GRANTS: dict[str, tuple[str, ...]] = {
    "partner": (AUTHORIZATION_CODE, CLIENT_CREDENTIALS),
    "practice": (AUTHORIZATION_CODE, CLIENT_CREDENTIALS),
    "fulfillment": (AUTHORIZATION_CODE, CLIENT_CREDENTIALS),
    # Their token calls are fronts for the client-credentials grant of a connected app.
    "labs": (CLIENT_CREDENTIALS,),
    "portal": (CLIENT_CREDENTIALS,),
}
EVERY_GRANT = (AUTHORIZATION_CODE, CLIENT_CREDENTIALS)
# A dialect not in the table above.
DEFAULT_GRANTS = EVERY_GRANT
# The authorization server's own routes (UserInfo): they speak for a user who signed in.
SERVER_GRANTS = (AUTHORIZATION_CODE,)
# Scopes about the user who approves (OpenID Connect): granted at consent only.
IDENTITY = "identity"

# In a parameter's ``json_schema_extra``: its route refuses to go without it, yet declares
# it optional so that the route, not the framework, answers its absence (in the dialect's
# envelope, naming it). The document declares it required, of its non-null type.
REQUIRED_MARK = "x-optihub-required"

TAG_SEPARATOR = " · "
# Path segments that name no resource (``/search/orders`` searches orders).
NOT_RESOURCES = frozenset({"search"})
# Resource names (by lower-case path segment) where the segment does not say it.
RESOURCE_NAMES = {"oauth": "Authentication", "token": "Authentication", "auth": "Authentication"}
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})

DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{static}/swagger-ui.css">
<link rel="stylesheet" href="{style}">
<link rel="icon" type="image/png" href="{static}/favicon-32x32.png">
</head>
<body>
<nav class="apidocs-dialects" aria-label="API reference by dialect">
<ul>
{links}
</ul>
</nav>
<div id="swagger-ui" data-config="{config}"></div>
<script src="{static}/swagger-ui-bundle.js"></script>
<script src="{init}"></script>
</body>
</html>
"""

# The pages' own rules (the dialect links above Swagger UI); the page may load no inline
# style, so they are served as a stylesheet of their own.
DOCS_STYLE = b"""\
.apidocs-dialects { font-family: sans-serif; background: #1b1b1b; padding: 10px 20px; }
.apidocs-dialects ul { display: flex; flex-wrap: wrap; gap: 6px 20px; margin: 0 auto;
  max-width: 1420px; padding: 0; list-style: none; }
.apidocs-dialects a { color: #fff; text-decoration: none; font-size: 14px; }
.apidocs-dialects a:hover, .apidocs-dialects a:focus { text-decoration: underline; }
.apidocs-dialects a[aria-current="page"] { font-weight: 700; border-bottom: 2px solid #62a03f; }
"""

REDIRECT_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Swagger UI: OAuth2 Redirect</title></head>
<body>
<script src="{static}/oauth2-redirect.js"></script>
</body>
</html>
"""


# -- the document --------------------------------------------------------------------------


class Surface(Protocol):
    """What the documents and pages read of an installed dialect (``kit.Surface``)."""

    @property
    def name(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def prefix(self) -> str: ...


class Surfaces(Protocol):
    """What they read of the installed dialects (``app.state.surfaces``)."""

    def owner(self, path: str) -> Surface | None: ...
    def __iter__(self) -> Iterator[Surface]: ...


def dialect_label(surface: Surface) -> str:
    """The dialect's short name in tags and links: "Portal", "Labs"."""
    return surface.name.capitalize()


def resource_tag(surface: Surface, path: str) -> str:
    """The tag of an operation of ``surface`` at ``path``: the dialect and the resource,
    the first segment below the prefix that is neither a path parameter nor a word like
    "search" ("/v2/{client_id}/patients/{id}" → "Practice · Patients")."""
    below = path[len(surface.prefix) :] if path.startswith(surface.prefix + "/") else path
    segments = [s for s in below.split("/") if s and not s.startswith("{")]
    named = [s for s in segments if s.lower() not in NOT_RESOURCES] or segments or [surface.name]
    return dialect_label(surface) + TAG_SEPARATOR + resource_name(named[0])


def resource_name(segment: str) -> str:
    """A path segment as words: "PatientRelationships" → "Patient relationships"."""
    known = RESOURCE_NAMES.get(segment.lower())
    if known is not None:
        return known
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", segment).replace("_", " ").replace("-", " ")
    return words[:1].upper() + words[1:].lower()


def scope_alternatives(required: Iterable[str]) -> list[list[str]]:
    """Every set of scopes that passes the check of ``required``: each scope, or a broader
    one that implies it (``orders:read`` → ``[["orders:read"], ["orders:full"]]``)."""
    options = [
        [scope, *sorted(broad for broad, narrow in IMPLIED.items() if scope in narrow)]
        for scope in required
    ]
    return [list(chosen) for chosen in itertools.product(*options)]


def security_requirements(required: tuple[str, ...], grants: Iterable[str]) -> list[Any]:
    """An operation's ``security``: none without a scope; otherwise each grant with each
    set of scopes that passes, or a bearer token carrying them."""
    if not required:
        return []
    alternatives = scope_alternatives(required)
    found: list[Any] = [{grant: scopes} for grant in grants for scopes in alternatives]
    found.append({BEARER: list(required)})
    return found


def security_schemes(issuer: str, grants: Collection[str], scopes: Iterable[Scope]) -> Any:
    """The schemes of ``grants`` (and the bearer token), offering ``scopes``."""
    offered = list(scopes)
    everything = {s.name: s.description for s in offered}
    for_apps = {s.name: s.description for s in offered if s.surface != IDENTITY}
    schemes: dict[str, Any] = {}
    if AUTHORIZATION_CODE in grants:
        schemes[AUTHORIZATION_CODE] = {
            "type": "oauth2",
            "description": (
                "OAuth 2.1 authorization code with PKCE (S256) at OptiHub's authorization "
                "server: a user signs in, approves the scopes and chooses the practice. To "
                "try it here, register this page's redirect URI (`/docs/oauth2-redirect` "
                "on this server) for your app; see docs/oauth.md."
            ),
            "flows": {
                "authorizationCode": {
                    "authorizationUrl": f"{issuer}/oauth/authorize",
                    "tokenUrl": f"{issuer}/oauth/token",
                    "refreshUrl": f"{issuer}/oauth/token",
                    "scopes": everything,
                }
            },
        }
    if CLIENT_CREDENTIALS in grants:
        schemes[CLIENT_CREDENTIALS] = {
            "type": "oauth2",
            "description": (
                "OAuth 2.1 client credentials at OptiHub's authorization server: a "
                "confidential app connected to the practice, with the scopes it is "
                "registered for."
            ),
            "flows": {
                "clientCredentials": {"tokenUrl": f"{issuer}/oauth/token", "scopes": for_apps}
            },
        }
    schemes[BEARER] = {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": (
            "An OptiHub access token, pasted: from a dialect's own token call "
            "(`POST /v1/oauth/token`, `POST /api/token`, `POST /fulfillment/v1/auth/login`) "
            "or from `POST /oauth/token`. It must carry the operation's scopes."
        ),
    }
    return schemes


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """``(path, method, operation)`` of every operation of ``document``."""
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def require_marked_parameters(operation: dict[str, Any]) -> None:
    """Parameters marked ``REQUIRED_MARK`` become required, of their non-null type."""
    for parameter in operation.get("parameters", ()):
        schema = parameter.get("schema", {})
        if not schema.pop(REQUIRED_MARK, False):
            continue
        parameter["required"] = True
        branches = [b for b in schema.pop("anyOf", ()) if b.get("type") != "null"]
        if len(branches) == 1:
            schema.update(branches[0])
        elif branches:
            schema["anyOf"] = branches


def describe(document: dict[str, Any], app: FastAPI) -> None:
    """Add security, resource tags and required headers to FastAPI's ``document``."""
    surfaces: Surfaces = app.state.surfaces
    issuer: str = app.state.settings.issuer
    required_scopes = route_scopes(app.routes)
    tags: dict[str, str] = {}
    for path, method, operation in operations(document):
        surface = surfaces.owner(path)
        grants = SERVER_GRANTS if surface is None else GRANTS.get(surface.name, DEFAULT_GRANTS)
        if "security" not in operation:
            required = required_scopes.get((method.upper(), path), ())
            operation["security"] = security_requirements(required, grants)
        if surface is not None:
            mine = dialect_label(surface) + TAG_SEPARATOR
            own = [t for t in operation.get("tags", ()) if t.startswith(mine)]
            operation["tags"] = own[:1] or [resource_tag(surface, path)]
            tags.setdefault(
                operation["tags"][0],
                f"{surface.title} (`{surface.prefix}`). This dialect alone: "
                f"[/docs/{surface.name}](/docs/{surface.name}).",
            )
        else:
            for tag in operation.setdefault("tags", ["OptiHub"]):
                tags.setdefault(tag, "")
        require_marked_parameters(operation)
    document["tags"] = [
        {"name": name, "description": text} if text else {"name": name}
        for name, text in tags.items()
    ]
    components = document.setdefault("components", {})
    components["securitySchemes"] = security_schemes(issuer, EVERY_GRANT, SCOPES)


def dialect_document(whole: dict[str, Any], app: FastAPI, surface: Surface) -> dict[str, Any]:
    """The part of ``whole`` that is ``surface``'s: its operations, the schemas they use,
    its tags and the security schemes its callers use."""
    surfaces: Surfaces = app.state.surfaces
    paths = {
        path: copy.deepcopy(item)
        for path, item in whole.get("paths", {}).items()
        if surfaces.owner(path) is surface
    }
    document: dict[str, Any] = {
        "openapi": whole["openapi"],
        "info": {
            **whole["info"],
            "title": f"{whole['info']['title']} {surface.title}",
            "description": (
                f"The {surface.title} of OptiHub (`{surface.prefix}`), alone. Every dialect: "
                "[/docs](/docs), [/openapi.json](/openapi.json)."
            ),
        },
        "paths": paths,
    }
    used_tags = {tag for _, _, op in operations(document) for tag in op.get("tags", ())}
    document["tags"] = [t for t in whole.get("tags", ()) if t["name"] in used_tags]
    schemas = whole.get("components", {}).get("schemas", {})
    kept = referenced_schemas(paths, schemas)
    grants = GRANTS.get(surface.name, DEFAULT_GRANTS)
    required = {
        scope
        for _, _, op in operations(document)
        for requirement in op.get("security", ())
        for scopes in requirement.values()
        for scope in scopes
    }
    offered = [s for s in SCOPES if s.surface in (surface.name, IDENTITY) or s.name in required]
    if AUTHORIZATION_CODE not in grants:
        offered = [s for s in offered if s.surface != IDENTITY]
    components: dict[str, Any] = {
        "securitySchemes": security_schemes(app.state.settings.issuer, grants, offered)
    }
    if kept:
        components["schemas"] = {name: copy.deepcopy(schemas[name]) for name in kept}
    document["components"] = components
    return document


REF = "#/components/schemas/"


def referenced_schemas(part: Any, schemas: dict[str, Any]) -> list[str]:
    """Names of the component schemas ``part`` refers to, directly or through others, in
    the order of ``schemas``."""
    found: set[str] = set()
    waiting = [part]
    while waiting:
        value = waiting.pop()
        if isinstance(value, dict):
            ref = value.get("$ref")
            if isinstance(ref, str) and ref.startswith(REF):
                name = ref[len(REF) :]
                if name not in found and name in schemas:
                    found.add(name)
                    waiting.append(schemas[name])
            waiting.extend(value.values())
        elif isinstance(value, list):
            waiting.extend(value)
    return [name for name in schemas if name in found]


# -- the pages -----------------------------------------------------------------------------


def swagger_ui_config(app: FastAPI, root: str, document_url: str | None = None) -> dict[str, Any]:
    """What FastAPI's page passes to ``SwaggerUIBundle``, as data for ``apidocs.js``."""
    config: dict[str, Any] = {
        "url": f"{root}{document_url or app.openapi_url}",
        **swagger_ui_default_parameters,
        # The online validator badge would send the document's URL to swagger.io.
        "validatorUrl": None,
        **(app.swagger_ui_parameters or {}),
    }
    if app.swagger_ui_oauth2_redirect_url:
        config["oauth2RedirectUrl"] = f"{root}{app.swagger_ui_oauth2_redirect_url}"
    # OptiHub's authorization server requires PKCE (S256) from every client.
    config["initOAuth"] = {
        "usePkceWithAuthorizationCodeGrant": True,
        **(app.swagger_ui_init_oauth or {}),
    }
    return jsonable_encoder(config)  # type: ignore[no-any-return]


def install_api_docs(app: FastAPI) -> None:
    """Serve the documents (``/openapi.json`` described, ``/openapi/<dialect>.json``), the
    pages (``/docs``, ``/docs/<dialect>``, Swagger UI's OAuth2 redirect page) and their
    local assets.

    The app must be built with ``docs_url=None, redoc_url=None`` so FastAPI's CDN pages
    are not registered as well.
    """
    app.mount(STATIC_URL, StaticFiles(directory=str(swagger_ui_path)), name="apidocs-static")
    redirect_url = app.swagger_ui_oauth2_redirect_url
    build = app.openapi
    dialect_documents: dict[str, bytes] = {}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            describe(build(), app)  # FastAPI keeps what it built: described once
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    def dialect(name: str) -> Surface:
        installed: list[Surface] = list(app.state.surfaces)
        for surface in installed:
            if surface.name == name:
                return surface
        raise HTTPException(404, f"No API dialect named {name!r}")

    def root_of(request: Request) -> str:
        # Behind a proxy that strips a prefix, every URL the page uses carries it.
        return str(request.scope.get("root_path", "")).rstrip("/")

    def page(request: Request, current: Surface | None) -> HTMLResponse:
        root = root_of(request)
        surfaces: Surfaces = app.state.surfaces
        entries = [(DOCS_URL, "Every dialect", current is None)] + [
            (f"{DOCS_URL}/{s.name}", s.title, s is current) for s in surfaces
        ]
        links = "\n".join(
            f'<li><a href="{escape(root + url)}"'
            + (' aria-current="page"' if here else "")
            + f">{escape(text)}</a></li>"
            for url, text, here in entries
        )
        document_url = None
        title = f"{app.title} API reference"
        if current is not None:
            document_url = DIALECT_DOCUMENT_URL.format(dialect=current.name)
            title = f"{app.title} {current.title} reference"
        return HTMLResponse(
            DOCS_PAGE.format(
                title=escape(title),
                static=escape(f"{root}{STATIC_URL}"),
                style=escape(f"{root}{STYLE_URL}"),
                init=escape(f"{root}{INIT_URL}"),
                links=links,
                config=escape(json.dumps(swagger_ui_config(app, root, document_url))),
            )
        )

    @app.get(DOCS_URL, include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        return page(request, None)

    @app.get(INIT_URL, include_in_schema=False)
    def swagger_ui_init() -> Response:
        return Response(INIT_SCRIPT, media_type="text/javascript")

    @app.get(STYLE_URL, include_in_schema=False)
    def swagger_ui_style() -> Response:
        return Response(DOCS_STYLE, media_type="text/css")

    if redirect_url:

        @app.get(redirect_url, include_in_schema=False)
        def swagger_ui_oauth2_redirect(request: Request) -> HTMLResponse:
            return HTMLResponse(REDIRECT_PAGE.format(static=escape(root_of(request) + STATIC_URL)))

    # After the fixed /docs/… paths above, which a dialect's name must not shadow.
    @app.get(DOCS_URL + "/{name}", include_in_schema=False)
    def dialect_page(name: str, request: Request) -> HTMLResponse:
        return page(request, dialect(name))

    @app.get(DIALECT_DOCUMENT_URL.replace("{dialect}", "{name}"), include_in_schema=False)
    def dialect_openapi(name: str) -> Response:
        surface = dialect(name)
        if name not in dialect_documents:
            document = dialect_document(openapi(), app, surface)
            dialect_documents[name] = json.dumps(jsonable_encoder(document)).encode()
        return Response(dialect_documents[name], media_type=JSONResponse.media_type)
