"""Lab-order API routes (SpecCheck dialect): the token call, the acting user, the lab and
catalog drill-down. Thin: reads come from ``reads.catalog``, tokens from the OAuth server.

No ``from __future__ import annotations`` here: ``acting()`` builds its dependency's
signature from a local (the scope requirement), which FastAPI must see evaluated.
"""

import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from optihub.auth.resource import Principal, require_scopes
from optihub.auth.routes import dialect_token
from optihub.db.session import Database
from optihub.errors import BadRequest, Forbidden, NotFound
from optihub.reads import catalog
from optihub.reads import staff as staff_reads
from optihub.reads.catalog import LabAccountView
from optihub.reads.staff import StaffView
from optihub.surfaces import kit
from optihub.surfaces.labs import schemas
from optihub.surfaces.labs.ids import public_id, row_id
from optihub.surfaces.labs.mapping import (
    COAT,
    COLOR,
    LAB,
    MATERIAL,
    STYLE,
    TOKEN_SCOPES,
    TOKEN_TTL_SECONDS,
)
from optihub.web import database

router = APIRouter(tags=["Lab orders (SpecCheck)"])

USER_EMAIL = "User-Email"


@dataclass(frozen=True)
class Acting:
    """The token's practice and the staff member the User-Email header names."""

    principal: Principal
    practice_id: int
    user: StaffView


def _member(db: Database, practice_id: int, email: str) -> StaffView | None:
    with db.reading() as reader:
        return staff_reads.member(reader, practice_id, email)


def acting(scope: str) -> Callable[..., Coroutine[Any, Any, Acting]]:
    """Token with ``scope``, one practice, and a User-Email of one of its dashboard users."""
    requirement = require_scopes(scope)

    async def dependency(
        request: Request,
        principal: Annotated[Principal, Depends(requirement)],
        user_email: Annotated[
            str | None,
            Header(
                alias=USER_EMAIL,
                description="Email of the acting user: a user of the practice's dashboard.",
                # Required: optional to the framework so a missing one is refused below,
                # in the dialect's envelope; the document declares it required (apidocs).
                json_schema_extra={"x-optihub-required": True},
            ),
        ] = None,
    ) -> Acting:
        practice_id = kit.single_practice(principal)
        email = required_email(user_email)
        user = await run_in_threadpool(_member, database(request), practice_id, email)
        return Acting(principal, practice_id, member_or_refusal(user))

    return dependency


def required_email(user_email: str | None) -> str:
    """The User-Email header's value, or the dialect's refusal of a missing one."""
    if user_email is None or not user_email.strip():
        raise BadRequest(
            "The User-Email header is required: the email of the acting user",
            code="parameter_missing",
            field=USER_EMAIL,
        )
    return user_email


def member_or_refusal(user: StaffView | None) -> StaffView:
    """The acting user found by User-Email, or the dialect's refusal of an unknown one."""
    if user is None:
        raise Forbidden(
            "User-Email does not name a user of this practice's OptiHub dashboard",
            field=USER_EMAIL,
        )
    return user


CatalogReader = Annotated[Acting, Depends(acting("lab_catalog:read"))]
LabParam = Annotated[str, Query(description="The lab id (`lab_…`) from GET /v1/labs.")]
AccountParam = Annotated[str, Query(max_length=50, description="The account number with it.")]


@router.post("/oauth/token", response_model=schemas.AccessToken, summary="Create Access Token")
async def create_access_token(body: schemas.TokenRequest, request: Request) -> Response:
    """A token with the lab-order scopes the app is registered for (403 when none), for
    ``OPTIHUB_ACCESS_TOKEN_TTL_LABS`` seconds (default 24 hours, the vendor's)."""
    # async, no DbSession: a throttled client is refused on the event loop; the secret is
    # verified in a worker thread (a few at a time) before the short transaction that
    # issues the token (auth.routes.dialect_token).
    token = await dialect_token(
        request,
        client_id=body.client_id,
        client_secret=body.client_secret,
        scopes=TOKEN_SCOPES,
        ttl=request.app.state.settings.token_ttl_for("labs", TOKEN_TTL_SECONDS),
    )
    return kit.json_response({"token": token}, headers={"Cache-Control": "no-store"})


def _lab(raw: str) -> uuid.UUID:
    return row_id(LAB, raw, kind="Lab")


def account_of(request: Request, who: Acting, lab: str, account_number: str) -> LabAccountView:
    """The practice's account with that lab and number (404 otherwise)."""
    lab_id = _lab(lab)
    with database(request).reading() as reader:
        account = catalog.lab_account(reader, who.practice_id, lab_id, account_number)
    if account is None:
        raise NotFound("Lab account", f"{lab} {account_number}")
    return account


@router.get("/labs", response_model=schemas.LabList, summary="List Labs")
def list_labs(request: Request, who: CatalogReader) -> Response:
    with database(request).reading() as reader:
        accounts = catalog.lab_accounts(reader, who.practice_id)
    data = [
        {"id": public_id(LAB, a.lab_id), "name": a.lab_name, "account_number": a.account_number}
        for a in accounts
    ]
    return kit.json_response({"data": data})


@router.get(
    "/labs/{id}/order_settings",
    response_model=schemas.OrderSettings,
    summary="Retrieve Order Settings",
)
def order_settings(
    request: Request,
    who: CatalogReader,
    id: str,
    account_number: AccountParam,
) -> Response:
    account = account_of(request, who, id, account_number)
    return kit.json_response(
        {
            "frame_handling_options": list(account.frame_handling_options),
            "frame_materials": list(account.frame_materials),
            "mounting_options": list(account.mounting_options),
            "order_types": list(account.order_types),
            "redo_types": list(account.redo_types),
            "services": list(account.services),
        }
    )


@router.get("/catalogs/styles", response_model=schemas.NamedList, summary="List Styles")
def list_styles(
    request: Request,
    who: CatalogReader,
    lab: LabParam,
    account_number: AccountParam,
    lens_type: Annotated[
        Literal["single_vision", "multifocal"], Query(description="The lens type to list.")
    ],
) -> Response:
    account = account_of(request, who, lab, account_number)
    with database(request).reading() as reader:
        found = catalog.styles(reader, account.lab_id, lens_type)
    data = [{"id": public_id(STYLE, s.id), "name": s.name} for s in found]
    return kit.json_response({"data": data})


def _style(request: Request, account: LabAccountView, raw: str) -> uuid.UUID:
    style_id = row_id(STYLE, raw, kind="Style")
    with database(request).reading() as reader:
        if catalog.style_lens_type(reader, account.lab_id, style_id) is None:
            raise NotFound("Style", raw)
    return style_id


@router.get("/catalogs/materials", response_model=schemas.NamedList, summary="List Materials")
def list_materials(
    request: Request,
    who: CatalogReader,
    lab: LabParam,
    account_number: AccountParam,
    style: Annotated[str, Query(description="A style id (`style_…`) of this lab.")],
) -> Response:
    account = account_of(request, who, lab, account_number)
    style_id = _style(request, account, style)
    with database(request).reading() as reader:
        found = catalog.materials(reader, account.lab_id, style_id)
    data = [{"id": public_id(MATERIAL, m.id), "name": m.name} for m in found]
    return kit.json_response({"data": data})


@router.get("/catalogs/addons", response_model=schemas.AddonList, summary="List Addons")
def list_addons(
    request: Request,
    who: CatalogReader,
    lab: LabParam,
    account_number: AccountParam,
    style: Annotated[str, Query(description="A style id (`style_…`) of this lab.")],
    material: Annotated[str, Query(description="A material id offered for that style.")],
) -> Response:
    account = account_of(request, who, lab, account_number)
    style_id = _style(request, account, style)
    material_id = row_id(MATERIAL, material, kind="Material")
    with database(request).reading() as reader:
        if not catalog.offers_material(reader, account.lab_id, style_id, material_id):
            raise NotFound("Material", material)
        found = catalog.addons(reader, account.lab_id, style_id, material_id)
    return kit.json_response(
        {
            "data": {
                "coats": [
                    {"id": public_id(COAT, i), "name": n, "type": t} for i, n, t in found.coats
                ],
                "colors": [{"id": public_id(COLOR, c.id), "name": c.name} for c in found.colors],
                "tints": list(found.tints),
            }
        }
    )
