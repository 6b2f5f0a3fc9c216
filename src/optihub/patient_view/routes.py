"""``/p/{token}``: the patient's page, and ``/p/{token}/prescription.pdf``.

A token that is malformed, tampered with or unknown is a 404; an expired or revoked one a
410; both a plain page that names nothing (no practice, no order). Every answer here carries
``Cache-Control: no-store`` and ``X-Robots-Tag: noindex`` (and, as every OptiHub response,
``Referrer-Policy: no-referrer``, so the address never leaks to a site the page links to).
"""

from __future__ import annotations

from pathlib import Path

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

from optihub.patient_view import page
from optihub.reads import prescriptions as rx_reads
from optihub.services import patient_links
from optihub.services.patient_links import LinkKey, LinkState
from optihub.surfaces.fhir import resources as fhir_resources
from optihub.surfaces.fhir.mapping import FHIR_JSON
from optihub.web import DbSession

router = APIRouter(include_in_schema=False)

PRIVATE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
}

templates = Jinja2Templates(
    env=Environment(
        loader=FileSystemLoader(str(Path(__file__).parent / "templates")),
        autoescape=select_autoescape(default=True),
    )
)

GONE = {
    None: (
        404,
        "This link does not work",
        "The address may be mistyped or incomplete. Check the link in the message from "
        "your practice, or ask them to send it again.",
    ),
    LinkState.EXPIRED: (
        410,
        "This link has expired",
        "Links to an order work for a limited time. Ask your practice to send you a new one.",
    ),
    LinkState.REVOKED: (
        410,
        "This link is no longer active",
        "The practice has withdrawn it. Ask them to send you a new one.",
    ),
}


def _key(request: Request) -> LinkKey:
    key: LinkKey = request.app.state.patient_link_key
    return key


def _html(request: Request, name: str, context: dict[str, object], status: int) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers.update(PRIVATE_HEADERS)
    return response


def _gone(request: Request, state: LinkState | None) -> HTMLResponse:
    status, title, text = GONE[state]
    return _html(request, "gone.html", {"title": title, "text": text}, status)


@router.get("/p/{token}")
def patient_order(token: str, request: Request, session: DbSession) -> Response:
    opened = patient_links.open_link(session, _key(request), token)
    if opened.link is None:
        return _gone(request, opened.state)
    shown = page.patient_order(session, opened.link)
    if shown is None:
        return _gone(request, None)
    return _html(request, "order.html", {"order": shown, "token": token}, 200)


@router.get("/p/{token}/prescription.json")
def prescription_fhir(token: str, request: Request, session: DbSession) -> Response:
    """The prescription as a FHIR R5 VisionPrescription (what a clinical system reads
    through ``/fhir/r5``), for the patient to keep or hand on."""
    opened = patient_links.open_link(session, _key(request), token)
    if opened.link is None:
        return _gone(request, opened.state)
    found = page.record_for(session, opened.link)
    view = rx_reads.view(session, found[0], found[1]) if found is not None else None
    if view is None:
        return _gone(request, None)
    resource = fhir_resources.vision_prescription(view, request.app.state.settings.issuer)
    return Response(
        orjson.dumps(resource),
        media_type=FHIR_JSON,
        headers={
            **PRIVATE_HEADERS,
            "Content-Disposition": 'attachment; filename="prescription.fhir.json"',
        },
    )


@router.get("/p/{token}/prescription.pdf")
def prescription_pdf(token: str, request: Request, session: DbSession) -> Response:
    opened = patient_links.open_link(session, _key(request), token)
    if opened.link is None:
        return _gone(request, opened.state)
    found = page.pdf_for(session, opened.link)
    if found is None:
        return _gone(request, None)
    return Response(
        found.content,
        media_type="application/pdf",
        headers={
            **PRIVATE_HEADERS,
            "Content-Disposition": 'attachment; filename="prescription.pdf"',
        },
    )
