"""The shell every staff page is drawn in: header with the practice's name, navigation, the
signed-in user and sign-out; one stylesheet and one script, served by OptiHub (the pages'
content security policy allows no inline style or script and nothing from elsewhere).

The dashboard's and the account pages' templates extend ``shell.html``
(``templates_for`` gives each package a loader that sees its own templates and the shell's).
Which practice a user is working in is ``workplace``: the session's choice among their
memberships, else the first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, pass_context, select_autoescape
from sqlalchemy.orm import Session

from optihub.db.models import User
from optihub.domain import board
from optihub.reads import staff as staff_reads

STATIC_URL = "/static/shell"
TEMPLATES = Path(__file__).parent / "templates"

# (section, label, address): the main navigation, left to right.
NAV: tuple[tuple[str, str, str], ...] = (
    ("orders", "Orders", "/dashboard/orders"),
    ("stock", "Stock", "/dashboard/stock"),
    ("apps", "Apps", "/dashboard/apps"),
    ("webhooks", "Webhooks", "/dashboard/webhooks"),
    ("settings", "Settings", "/dashboard/settings"),
)

ROLE_LABELS = {"owner": "Owner", "manager": "Manager", "staff": "Staff"}


@dataclass(frozen=True)
class Workplace:
    """Who is signed in and the practice they are working in."""

    user: User
    current: staff_reads.MembershipView
    memberships: tuple[staff_reads.MembershipView, ...]

    @property
    def practice_id(self) -> int:
        return self.current.practice_id

    @property
    def role(self) -> str:
        return self.current.role

    @property
    def user_name(self) -> str:
        name = f"{self.user.first_name} {self.user.last_name}".strip()
        return name or self.user.email

    @property
    def zone(self) -> ZoneInfo:
        return zone_of(self.current.timezone)


def zone_of(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def workplace(request: Request, session: Session, user: User) -> Workplace | None:
    """The user's practice for this request (None: they belong to none)."""
    memberships = tuple(staff_reads.memberships(session, user.id))
    if not memberships:
        return None
    chosen = request.session.get("practice_id")
    current = next((m for m in memberships if m.practice_id == chosen), memberships[0])
    return Workplace(user=user, current=current, memberships=memberships)


def context(place: Workplace | None, section: str) -> dict[str, Any]:
    """What ``shell.html`` draws from."""
    return {
        "workplace": place,
        "section": section,
        "nav": NAV,
        "role_label": ROLE_LABELS.get(place.role, place.role) if place else "",
        "timezone": place.current.timezone if place else "UTC",
    }


@pass_context
def local_time(ctx: Any, value: datetime | None, style: str = "datetime") -> str:
    """A stored UTC time in the practice's time zone: ``5 Dec 2026, 14:05`` (or the date)."""
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    local = value.astimezone(zone_of(ctx.get("timezone")))
    if style == "date":
        return f"{local.day} {local:%b %Y}"
    return f"{local.day} {local:%b %Y, %H:%M}"


def templates_for(directory: Path) -> Jinja2Templates:
    """Templates of one package, which may extend the shell's."""
    environment = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(directory)), FileSystemLoader(str(TEMPLATES))]),
        autoescape=select_autoescape(default=True),
    )
    environment.filters["local_time"] = local_time
    environment.filters["status_label"] = board.status_label
    return Jinja2Templates(env=environment)


def install(app: FastAPI) -> None:
    app.mount(
        STATIC_URL, StaticFiles(directory=str(Path(__file__).parent / "static")), name="shell"
    )
