"""The staff dashboard: server-rendered pages over the services and reads (no API of its
own). Sign-in, sessions and CSRF are the auth pages'; ``install`` adds the routes."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from optihub.dashboard.pages import router

STATIC_URL = "/static/dashboard"


def install(app: FastAPI) -> None:
    """Add the dashboard's pages (after the auth pages, whose session middleware they use)
    and their stylesheet (every style is a served file: the pages' policy allows no inline
    style)."""
    app.mount(
        STATIC_URL,
        StaticFiles(directory=str(Path(__file__).parent / "static")),
        name="dashboard-static",
    )
    app.include_router(router)
