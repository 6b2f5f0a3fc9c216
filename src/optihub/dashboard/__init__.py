"""The staff dashboard: server-rendered pages over the services and reads (no API of its
own). Sign-in, sessions and CSRF are the auth pages'; ``install`` adds the routes."""

from __future__ import annotations

from fastapi import FastAPI

from optihub.dashboard.pages import router


def install(app: FastAPI) -> None:
    """Add the dashboard's pages (after the auth pages, whose session middleware they use)."""
    app.include_router(router)
