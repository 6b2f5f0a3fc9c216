"""The patient's view: what a patient sees through the link the practice sends them
(``/p/{token}``): one order's progress, where and when to pick it up, and the prescription
with its PDF. No account, no cookie; nothing else of the patient or the practice is
reachable from it. Its own templates and stylesheet, in the dashboard's look.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from optihub.patient_view.routes import router
from optihub.services.patient_links import KEY_PURPOSE, LinkKey

STATIC_URL = "/static/patient"


class DerivesKeys(Protocol):
    def derive(self, purpose: str) -> str: ...


def link_key(instance_key: DerivesKeys) -> LinkKey:
    """The key patient links are signed with: derived from the instance key, so every
    process of a cluster (sharing ``OPTIHUB_SECRET_KEY``) signs and checks the same."""
    return LinkKey.of(instance_key.derive(KEY_PURPOSE))


def install(app: FastAPI) -> None:
    app.state.patient_link_key = link_key(app.state.instance_key)
    app.include_router(router)
    app.mount(
        STATIC_URL,
        StaticFiles(directory=str(Path(__file__).parent / "static")),
        name="patient_view",
    )
