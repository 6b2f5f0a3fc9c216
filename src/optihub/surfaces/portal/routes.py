"""The portal sync routes: the token call, then per resource ``GET``/``POST``/``DELETE``
``/api/{Resource}`` (read, create-or-update, delete by ``externalId``) and the two searches.

A body is read as JSON or XML by its ``Content-Type`` (``application/json``, ``text/json``,
``application/xml``, ``text/xml``; none means JSON) and answered in the format ``Accept``
prefers (JSON by default).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException

from optihub.auth.resource import Principal, require_scopes
from optihub.auth.routes import dialect_token
from optihub.db.nul import refuse_nul
from optihub.errors import (
    AuthError,
    FieldError,
    Forbidden,
    NotFound,
    OptiHubError,
    PayloadTooLarge,
    RateLimited,
    ValidationFailed,
    human_size,
)
from optihub.reads import orders as order_reads
from optihub.services.context import Actor
from optihub.surfaces import kit
from optihub.surfaces.kit.fast import FastRead, FastRequest, TextParameter, hot_answer
from optihub.surfaces.kit.fast_write import FastWrite, WriteRequest, later
from optihub.surfaces.kit.responses import JSON, XML, wants_xml
from optihub.surfaces.portal import codec, resources, values
from optihub.web import DbSession, HotAnswer, in_transaction

SCOPE = "portal:sync"
# What a token from the token call carries: this dialect's one scope, never the app's others.
TOKEN_SCOPES = frozenset({SCOPE})
BAD_CREDENTIALS = "The user name or password is incorrect."
# A prescription's PDF, decoded (the body limit allows for its base64 text around it).
MAX_FILE_BYTES = 10 << 20
MAX_PER_PAGE = 100
JSON_TYPES = {"application/json", "text/json", ""}
XML_TYPES = {"application/xml", "text/xml"}

router = APIRouter()
root_router = APIRouter()

Syncing = Annotated[Principal, Depends(require_scopes(SCOPE))]


def actor_of(principal: Principal) -> Actor:
    return Actor(
        practice_id=kit.single_practice(principal),
        via="portal",
        client_id=principal.client_id,
        label=f"app:{principal.client_id}",
    )


# -- the token call ------------------------------------------------------------------------


def _oauth_error(
    error: str, description: str, status: int = 400, retry_after: int | None = None
) -> Response:
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return kit.json_response(
        {"error": error, "error_description": description}, status, headers=headers
    )


async def token(
    request: Request,
    grant_type: Annotated[str | None, Form()] = None,
    username: Annotated[str | None, Form()] = None,
    password: Annotated[str | None, Form()] = None,
) -> Response:
    """The practice's synchronization credentials (a connected confidential app's client
    id and secret, sent as ``username`` / ``password``) for a bearer token carrying
    ``portal:sync`` only, for ``OPTIHUB_ACCESS_TOKEN_TTL_PORTAL`` seconds (default
    ``OPTIHUB_ACCESS_TOKEN_TTL``). Every refusal is OAuth's error body, as the vendor's."""
    # async, no DbSession: a throttled client is refused on the event loop; the secret is
    # verified in a worker thread (a few at a time) before the short transaction that
    # issues the token (auth.routes.dialect_token).
    if grant_type != "password":
        return _oauth_error("unsupported_grant_type", "Only grant_type=password is supported.")
    if not username or not password or len(username) > 200 or len(password) > 500:
        return _oauth_error("invalid_grant", BAD_CREDENTIALS)
    ttl = request.app.state.settings.token_ttl_for("portal")
    try:
        access = await dialect_token(
            request, client_id=username, client_secret=password, scopes=TOKEN_SCOPES, ttl=ttl
        )
    except RateLimited as exc:
        return _oauth_error("rate_limited", exc.message, 429, exc.retry_after_seconds)
    except AuthError:
        return _oauth_error("invalid_grant", BAD_CREDENTIALS)
    except Forbidden as exc:  # registered without portal:sync
        return _oauth_error("invalid_scope", exc.message)
    except OptiHubError as exc:  # plain http; connected to no practice, or to several
        return _oauth_error("invalid_grant", exc.message)
    return kit.json_response(
        {"access_token": access, "token_type": "bearer", "expires_in": ttl},
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


class TokenBody(BaseModel):
    access_token: str
    token_type: str
    expires_in: int


class TokenError(BaseModel):
    error: str
    error_description: str


TOKEN_DOC: dict[str, Any] = {
    "response_model": TokenBody,
    "responses": {
        400: {"model": TokenError, "description": "OAuth's error body"},
        429: {
            "model": TokenError,
            "description": "`rate_limited`: too many failed attempts for this user name or "
            "from this address (see Retry-After)",
        },
    },
    "summary": "Get a token",
    "description": "Form-encoded `grant_type=password&username=…&password=…` with the "
    "practice's synchronization credentials (a connected app's client id and secret).",
    "response_description": "`{access_token, token_type, expires_in}`",
}
router.add_api_route("/token", token, methods=["POST"], **TOKEN_DOC)
root_router.add_api_route("/token", token, methods=["POST"], **TOKEN_DOC)


# -- bodies --------------------------------------------------------------------------------


async def raw_body(request: Request) -> bytes:
    return await request.body()


RawBody = Annotated[bytes, Depends(raw_body)]


def decoded(model: codec.Model, request_headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    media = request_headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if media in JSON_TYPES:
            return codec.decode_json(model, body)
        if media in XML_TYPES:
            return codec.decode_xml(model, body)
    except codec.Invalid as exc:
        raise ValidationFailed(
            [
                FieldError(key, message)
                for key, messages in exc.model_state.items()
                for message in messages
            ],
            exc.message,
        ) from exc
    raise HTTPException(
        415,
        f"The request entity's media type '{media}' is not supported for this resource.",
    )


def answer(request: Request, model: codec.Model, record: dict[str, Any], **kw: Any) -> Response:
    return answer_in(request.headers, model, record, **kw)


def answer_in(
    request_headers: Mapping[str, str], model: codec.Model, record: dict[str, Any], **kw: Any
) -> Response:
    """The record in the format the request's ``Accept`` prefers (JSON by default)."""
    typed = values.typed(model, record)
    if wants_xml(request_headers):
        return Response(codec.encode_xml(model, typed), media_type=XML, **kw)
    return Response(codec.encode_json(model, typed), media_type=JSON, **kw)


def _external_id(raw: str | None) -> str:
    if raw is None or not raw.strip():
        raise ValidationFailed(
            [FieldError("externalId", "The externalId field is required.")],
            "The request is invalid.",
        )
    return raw


ExternalIdParam = Annotated[
    str | None,
    Query(
        alias="externalId",
        max_length=100,
        description="The record's id in the integrating system.",
    ),
]


def _not_found(model: codec.Model, external_id: str) -> NotFound:
    noun = resources.RESOURCES[model.resource].noun
    error = NotFound(noun, external_id)
    error.message = f"No {noun} with ExternalId '{external_id}' exists."
    return error


# -- per resource --------------------------------------------------------------------------


def _reader(model: codec.Model) -> Callable[..., Response]:
    def read(
        request: Request, who: Syncing, session: DbSession, external: ExternalIdParam = None
    ) -> Response:
        external_id = _external_id(external)
        found = resources.read(session, kit.single_practice(who), model.resource, external_id)
        if found is None:
            raise _not_found(model, external_id)
        return answer(request, model, found)

    return read


def _writer(model: codec.Model) -> Callable[..., Awaitable[Response]]:
    async def write(request: Request, who: Syncing, body: RawBody) -> Response:
        # Decoding, the upsert and the answer in one trip through the thread pool, in the
        # request's one transaction (``in_transaction``): a body may be a large XML document
        # or PDF, never decoded on the event loop.
        headers = request.headers
        return await in_transaction(
            request, lambda session: _written(model, headers, who, session, body)
        )

    return write


def _written(
    model: codec.Model,
    request_headers: Mapping[str, str],
    who: Principal,
    session: Session,
    body: bytes,
) -> Response:
    """A create-or-update's answer, in its transaction: the route's and the fast path's
    (``_fast_writer``) one code, so both check, write and answer alike."""
    record = decoded(model, request_headers, body)
    file = record.get("FileContent")
    if file is not None and len(file) > MAX_FILE_BYTES:
        too_large = PayloadTooLarge(MAX_FILE_BYTES)
        too_large.message = f"The file is over {human_size(MAX_FILE_BYTES)}"
        raise too_large
    done = resources.upsert(
        session,
        actor_of(who),
        model.resource,
        values.plain(model, record),
        file=file,
        # A record that leaves FileContent out keeps the PDF stored with it.
        file_sent="FileContent" in record,
    )
    # The record as kept, without reading it again (what ``resources.read`` gives).
    shown = resources.shown(session, kit.single_practice(who), model.resource, done)
    assert shown is not None
    headers = {
        "X-Portal-Change": "created" if done.created else "updated" if done.changed else "unchanged"
    }
    if done.notes:
        # Which eyes' text was kept as sent without structured values.
        headers["X-Rx-Text-Not-Read"] = ", ".join(done.notes)
    return answer_in(request_headers, model, shown, headers=headers)


def _fast_writer(model: codec.Model) -> Callable[[WriteRequest], Awaitable[HotAnswer]]:
    async def write(request: WriteRequest) -> HotAnswer:
        headers = Headers(scope=request.scope)
        response = await request.transaction(
            lambda session: _written(model, headers, request.principal, session, request.raw)
        )
        return hot_answer(response)

    return write


def _deleter(model: codec.Model) -> Callable[..., Response]:
    def remove(
        request: Request, who: Syncing, session: DbSession, external: ExternalIdParam = None
    ) -> Response:
        external_id = _external_id(external)
        practice_id = kit.single_practice(who)
        found = resources.read(session, practice_id, model.resource, external_id)
        try:
            resources.remove(session, actor_of(who), model.resource, external_id)
        except NotFound:
            raise _not_found(model, external_id) from None
        if found is None:  # its core row was gone already
            return Response(status_code=204)
        return answer(request, model, found)

    return remove


def _body_doc(model: codec.Model) -> dict[str, Any]:
    schema = values.json_schema(model)
    xml_schema = {"type": "string", "description": f"A `<{model.name}>` document."}
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": schema},
                "text/json": {"schema": schema},
                "application/xml": {"schema": xml_schema},
                "text/xml": {"schema": xml_schema},
            },
        }
    }


def _response_doc(model: codec.Model) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": f"The {model.name}",
            "content": {
                "application/json": {"schema": values.json_schema(model, for_input=False)},
                "application/xml": {"schema": {"type": "string"}},
            },
        }
    }


_fast_writes: list[FastWrite] = []
for _model in codec.MODELS.values():
    _noun = resources.RESOURCES[_model.resource].noun
    router.add_api_route(
        f"/{_model.resource}",
        _reader(_model),
        methods=["GET"],
        summary=f"Read a {_noun}",
        responses=_response_doc(_model),
        response_class=Response,
        operation_id=f"get_{_model.resource}",
    )
    router.add_api_route(
        f"/{_model.resource}",
        _writer(_model),
        methods=["POST"],
        summary=f"Create or update a {_noun}",
        description=f"Creates a {_noun} or updates the one with the same `ExternalId`.",
        openapi_extra=_body_doc(_model),
        responses=_response_doc(_model),
        response_class=Response,
        operation_id=f"post_{_model.resource}",
    )
    router.add_api_route(
        f"/{_model.resource}",
        _deleter(_model),
        methods=["DELETE"],
        summary=f"Delete a {_noun}",
        responses=_response_doc(_model),
        response_class=Response,
        operation_id=f"delete_{_model.resource}",
    )
    # A JSON body on the fast path (``kit.fast_write``): the same code, before routing. The
    # practice is checked where the route checks it, after the body is decoded (``later``);
    # XML, no media type, a query string: the route.
    _fast_writes.append(
        FastWrite(
            f"/{_model.resource}",
            _fast_writer(_model),
            media_types=frozenset({"application/json", "text/json"}),
            decode=False,
            practice=later,
        )
    )
FAST_WRITES = tuple(_fast_writes)


# -- search --------------------------------------------------------------------------------

PageParam = Annotated[int, Query(ge=1, le=1_000_000, description="1-based page number.")]
PerPageParam = Annotated[
    int,
    Query(alias="itemsPerPage", ge=1, le=MAX_PER_PAGE, description="Rows per page (1-100)."),
]


def _contains(wanted: str | None, value: Any) -> bool:
    return wanted is None or (value is not None and wanted.lower() in str(value).lower())


def _same(wanted: bool | None, value: Any) -> bool:
    return wanted is None or (value is not False) == wanted


def _page(
    request: Request,
    session: DbSession,
    who: Principal,
    model: codec.Model,
    matches: Callable[[dict[str, Any]], bool],
    page: int,
    per_page: int,
) -> Response:
    found = resources.search(
        session,
        kit.single_practice(who),
        model.resource,
        matches,
        page=page,
        per_page=per_page,
    )
    total_pages = -(-found.total // per_page)
    first = (page - 1) * per_page + 1 if found.rows else 0
    block = {
        "TotalItems": found.total,
        "ItemsPerPage": per_page,
        "CurrentPage": page,
        "TotalPages": total_pages,
        "FirstRowOnPage": first,
        "LastRowOnPage": first + len(found.rows) - 1 if found.rows else 0,
        "Rows": [values.typed(model, row) for row in found.rows],
    }
    if wants_xml(request.headers):
        return Response(codec.encode_page_xml(model, block), media_type=XML)
    return Response(codec.encode_page_json(model, block), media_type=JSON)


Text = Annotated[str | None, Query(max_length=200)]


@router.get("/locations/search", summary="Search locations", response_class=Response)
def search_locations(
    request: Request,
    who: Syncing,
    session: DbSession,
    name: Text = None,
    active: bool | None = None,
    city: Text = None,
    state: Text = None,
    page: PageParam = 1,
    per_page: PerPageParam = 10,
) -> Response:
    refuse_nul([name, city, state])

    def matches(row: dict[str, Any]) -> bool:
        return (
            _contains(name, row.get("Name"))
            and _same(active, row.get("Active"))
            and _contains(city, row.get("City"))
            and _contains(state, row.get("State"))
        )

    return _page(request, session, who, codec.MODELS["Locations"], matches, page, per_page)


@router.get("/users/search", summary="Search users", response_class=Response)
def search_users(
    request: Request,
    who: Syncing,
    session: DbSession,
    active: bool | None = None,
    username: Text = None,
    first_name: Annotated[str | None, Query(alias="firstName", max_length=200)] = None,
    last_name: Annotated[str | None, Query(alias="lastName", max_length=200)] = None,
    page: PageParam = 1,
    per_page: PerPageParam = 10,
) -> Response:
    refuse_nul([username, first_name, last_name])

    def matches(row: dict[str, Any]) -> bool:
        return (
            _same(active, row.get("Active"))
            and _contains(username, row.get("Username"))
            and _contains(first_name, row.get("FirstName"))
            and _contains(last_name, row.get("LastName"))
        )

    return _page(request, session, who, codec.MODELS["Users"], matches, page, per_page)


ROUTE_SCOPES: dict[tuple[str, str], str | None] = {
    ("POST", "/token"): None,
    ("GET", "/locations/search"): SCOPE,
    ("GET", "/users/search"): SCOPE,
} | {
    (method, f"/{resource}"): SCOPE
    for resource in codec.MODELS
    for method in ("GET", "POST", "DELETE")
}


# -- the fast read ---------------------------------------------------------------------------


async def _fast_order(request: FastRequest) -> bytes | None:
    """``GET /api/Orders?externalId=`` in JSON: the record the route renders, kept with the
    practice's order version (raised by every change to the order, its synced records and
    the practice's status names), so a repeated read is one version check. XML, and an id
    with no order, go to the route."""
    if wants_xml({"accept": request.header(b"accept") or ""}):
        return None
    external_id = request.texts["externalId"]
    if not external_id.strip():
        return None
    model = codec.MODELS["Orders"]
    db, practice_id = request.db, request.practice_id

    def render() -> bytes | None:
        with db.transaction() as session:
            found = resources.read(session, practice_id, "Orders", external_id)
        return None if found is None else codec.encode_json(model, values.typed(model, found))

    return await order_reads.kept_async(db, practice_id, ("portal", "Orders", external_id), render)


FAST_READS = (FastRead("/Orders", _fast_order, {"externalId": TextParameter(100)}),)
