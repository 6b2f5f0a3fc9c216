"""Settings: the practice's locations, time zone, overdue thresholds, lab accounts, the
portal's status names and the mail server patients' e-mails go through.

Only the practice's owner changes them (``services.practice_settings`` and
``services.status_names.set_status_mapping``); a manager or member of staff sees the same
page read-only, without forms (they need to know the thresholds the board applies and the
zone times are shown in), and a change they post anyway is the 403 page. A refused form
comes back with what was typed and its problems in plain words, nothing written.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from optihub.auth.pages import see_other
from optihub.auth.routes import Params
from optihub.dashboard.common import (
    actor,
    may,
    not_found,
    render,
    staff_action,
    staff_page,
)
from optihub.db.models import Practice
from optihub.domain import board as words
from optihub.domain.orders import OrderStatus
from optihub.errors import NotFound, ValidationFailed
from optihub.reads import catalog
from optihub.reads import locations as location_reads
from optihub.services import patient_messages, practice_settings, status_names
from optihub.shell import Workplace
from optihub.web import DbSession

router = APIRouter(include_in_schema=False)

SETTINGS = "/dashboard/settings"
SECTION = "settings"
LOCATION_LIMIT = 500


@dataclass
class Typed:
    """What the owner typed in the form that was refused, and why (one form at a time)."""

    timezone: str | None = None
    overdue: dict[str, str] | None = None
    new_location: str = ""
    renamed: dict[str, str] = field(default_factory=dict)  # location id → typed name
    mapping_name: str = ""
    mapping_status: str = ""
    mail: dict[str, str] | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)

    def add(self, key: str, message: str) -> None:
        self.errors.setdefault(key, []).append(message)


def _zone_groups(current: str) -> list[tuple[str, list[str]]]:
    """The offered zones grouped by region (the stored one always among them)."""
    zones = list(practice_settings.time_zones())
    if current not in zones:
        zones = sorted([*zones, current])
    groups: dict[str, list[str]] = {}
    for name in zones:
        region = name.split("/", 1)[0] if "/" in name else "Other"
        groups.setdefault(region, []).append(name)
    return list(groups.items())


def _default_names() -> list[tuple[str, list[str]]]:
    by_status: dict[str, list[str]] = {}
    for name, status in status_names.DEFAULT_STATUS_NAMES.items():
        by_status.setdefault(status.value, []).append(name)
    return [(status, by_status.get(status, [])) for status in words.COLUMNS]


def _page(
    request: Request,
    session: Session,
    place: Workplace,
    typed: Typed | None = None,
    status_code: int = 200,
) -> Response:
    typed = typed or Typed()
    practice = session.scalar(select(Practice).where(Practice.id == place.practice_id))
    assert practice is not None  # the user's membership names it
    thresholds = words.overdue_days(practice.overdue_days)
    stored = practice.overdue_days or {}
    overdue_rows = [
        {
            "status": status,
            "label": words.status_label(status),
            "days": thresholds[status],
            "default": words.DEFAULT_OVERDUE_DAYS[status],
            "own": status in stored,
            "typed": (
                typed.overdue.get(status, "")
                if typed.overdue is not None
                else (str(stored[status]) if status in stored else "")
            ),
            "errors": typed.errors.get(f"overdue.{status}", []),
        }
        for status in words.WAITING_STATUSES
    ]
    locations = location_reads.page(
        session, place.practice_id, location_reads.LocationFilter(), limit=LOCATION_LIMIT
    )
    return render(
        request,
        place,
        "settings.html",
        {
            "title": "Settings",
            "practice": practice,
            "can_change": may(place, "owner"),
            "typed": typed,
            "zone_value": typed.timezone if typed.timezone is not None else practice.timezone,
            "zone_groups": _zone_groups(practice.timezone),
            "now": datetime.now(UTC),
            "overdue_rows": overdue_rows,
            "min_days": practice_settings.MIN_DAYS,
            "max_days": practice_settings.MAX_DAYS,
            "locations": locations.views,
            "location_total": locations.total,
            "lab_accounts": catalog.lab_accounts(session, place.practice_id),
            "mappings": [
                (name, status, words.status_label(status))
                for name, status in status_names.status_mappings(session, place.practice_id)
            ],
            "statuses": [(status, words.status_label(status)) for status in words.COLUMNS],
            "default_names": _default_names(),
            "mail": _mail(session, place, typed),
            "mail_modes": MAIL_MODES,
        },
        section=SECTION,
        status_code=status_code,
    )


MAIL_MODES = (
    ("starttls", "STARTTLS (port 587)"),
    ("tls", "TLS (port 465)"),
    ("none", "None (trusted network only)"),
)
MAIL_FIELDS = ("host", "port", "security", "username", "from_address")


def _mail(session: Session, place: Workplace, typed: Typed) -> dict[str, object]:
    """The mail server section: what is stored (never the password), or what was typed."""
    stored = patient_messages.mail_server(session, place.practice_id)
    if typed.mail is not None:
        values = dict(typed.mail)
    elif stored is not None:
        values = {
            "host": stored.host,
            "port": str(stored.port),
            "security": stored.security,
            "username": stored.username or "",
            "from_address": stored.from_address,
        }
    else:
        values = {
            "host": "",
            "port": "587",
            "security": "starttls",
            "username": "",
            "from_address": "",
        }
    return {
        "stored": stored,
        "fields": values,
        "has_password": stored is not None and stored.password_ciphertext is not None,
        "mode_label": dict(MAIL_MODES).get(stored.security, "") if stored else "",
    }


@router.get(SETTINGS)
def settings_page(request: Request, session: DbSession) -> Response:
    place = staff_page(request, session)
    if isinstance(place, Response):
        return place
    return _page(request, session, place)


def _owner(request: Request, params: Params, session: Session) -> Workplace | Response:
    """The owner's workplace for a change, or the answer instead (CSRF refusal, sign-in,
    the 403 page for a manager or member of staff)."""
    place = staff_action(request, dict(params["form"]), session, "owner", SECTION)
    if isinstance(place, Response):
        return place
    return place


def _done(request: Request, message: str, anchor: str) -> Response:
    request.session["flash"] = message
    return see_other(f"{SETTINGS}#{anchor}")


@router.post(SETTINGS + "/timezone")
def change_time_zone(request: Request, params: Params, session: DbSession) -> Response:
    place = _owner(request, params, session)
    if isinstance(place, Response):
        return place
    typed = dict(params["form"]).get("timezone", "")[:64]
    try:
        zone = practice_settings.set_time_zone(session, actor(place), typed)
    except ValidationFailed as failure:
        refused = Typed(timezone=typed)
        for error in failure.errors:
            refused.add("timezone", error.message)
        return _page(request, session, place, refused, 400)
    return _done(request, f"Times are now shown in {zone}.", "time-zone")


@router.post(SETTINGS + "/overdue")
def change_overdue_days(request: Request, params: Params, session: DbSession) -> Response:
    place = _owner(request, params, session)
    if isinstance(place, Response):
        return place
    form = dict(params["form"])
    typed = {status: form.get(f"days_{status}", "")[:20] for status in words.WAITING_STATUSES}
    try:
        practice_settings.set_overdue_days(session, actor(place), typed)
    except ValidationFailed as failure:
        refused = Typed(overdue=typed)
        for error in failure.errors:
            refused.add(f"overdue.{error.field}", error.message)
            refused.add("overdue", error.message)
        return _page(request, session, place, refused, 400)
    return _done(request, "The overdue thresholds are saved.", "overdue")


@router.post(SETTINGS + "/locations")
def add_location(request: Request, params: Params, session: DbSession) -> Response:
    place = _owner(request, params, session)
    if isinstance(place, Response):
        return place
    typed = dict(params["form"]).get("name", "")[:1000]
    try:
        location = practice_settings.add_location(session, actor(place), typed)
    except ValidationFailed as failure:
        refused = Typed(new_location=typed)
        for error in failure.errors:
            refused.add("new_location", error.message)
        return _page(request, session, place, refused, 400)
    return _done(request, f"{location.name} is added.", "locations")


@router.post(SETTINGS + "/locations/{location_id}")
def rename_location(
    location_id: str, request: Request, params: Params, session: DbSession
) -> Response:
    place = _owner(request, params, session)
    if isinstance(place, Response):
        return place
    typed = dict(params["form"]).get("name", "")[:1000]
    try:
        location = practice_settings.rename_location(
            session, actor(place), uuid.UUID(location_id), typed
        )
    except (ValueError, NotFound):
        return not_found(request, place, "location", SECTION)
    except ValidationFailed as failure:
        refused = Typed(renamed={location_id: typed})
        for error in failure.errors:
            refused.add(f"location.{location_id}", error.message)
        return _page(request, session, place, refused, 400)
    return _done(request, f"The location is now called {location.name}.", "locations")


def _mapping_refused(
    request: Request, session: Session, place: Workplace, name: str, status: str, message: str
) -> Response:
    refused = Typed(mapping_name=name, mapping_status=status)
    refused.add("mapping", message)
    return _page(request, session, place, refused, 400)


@router.post(SETTINGS + "/portal-statuses")
def map_portal_status(request: Request, params: Params, session: DbSession) -> Response:
    """Map one of the practice's own status names to an OptiHub status (as
    ``optihub portal status-map`` does)."""
    place = _owner(request, params, session)
    if isinstance(place, Response):
        return place
    form = dict(params["form"])
    name, status = form.get("name", "")[:200], form.get("status", "")
    if status not in {s.value for s in OrderStatus}:
        return _mapping_refused(
            request, session, place, name, status, "Choose the OptiHub status the name means."
        )
    try:
        status_names.set_status_mapping(session, place.practice_id, name, OrderStatus(status))
    except ValidationFailed:
        return _mapping_refused(
            request, session, place, name, status, "Give the status name, 1 to 100 characters."
        )
    label = words.status_label(status)
    return _done(
        request, f"Orders the portal sends as “{name.strip()}” now go to {label}.", "portal"
    )


@router.post(SETTINGS + "/portal-statuses/remove")
def unmap_portal_status(request: Request, params: Params, session: DbSession) -> Response:
    place = _owner(request, params, session)
    if isinstance(place, Response):
        return place
    name = dict(params["form"]).get("name", "")
    known = {mapped for mapped, _ in status_names.status_mappings(session, place.practice_id)}
    if name not in known:
        return not_found(request, place, "status name", SECTION)
    status_names.set_status_mapping(session, place.practice_id, name, None)
    return _done(request, f"“{name}” maps by its name again.", "portal")


@router.post(SETTINGS + "/mail")
def save_mail_server(request: Request, params: Params, session: DbSession) -> Response:
    """The practice's SMTP server for patients' e-mails (the password encrypted with the
    instance key; an empty password box keeps the stored one)."""
    place = _owner(request, params, session)
    if isinstance(place, Response):
        return place
    form = dict(params["form"])
    typed = {name: form.get(name, "")[:300] for name in MAIL_FIELDS}
    try:
        patient_messages.save_mail_server(
            session,
            actor(place),
            patient_messages.MailServerForm(
                host=typed["host"],
                port=typed["port"],
                security=typed["security"],
                username=typed["username"],
                password=form.get("password", "")[:1001],
                from_address=typed["from_address"],
            ),
            request.app.state.instance_key.encrypt,
        )
    except ValidationFailed as failure:
        refused = Typed(mail=typed)
        for error in failure.errors:
            refused.add(f"mail.{error.field}", error.message)
        return _page(request, session, place, refused, 400)
    return _done(request, "The mail server is saved: patients' e-mails go through it.", "mail")


@router.post(SETTINGS + "/mail/remove")
def remove_mail_server(request: Request, params: Params, session: DbSession) -> Response:
    place = _owner(request, params, session)
    if isinstance(place, Response):
        return place
    patient_messages.remove_mail_server(session, actor(place))
    return _done(request, "The mail server is removed: no e-mail goes to patients.", "mail")
