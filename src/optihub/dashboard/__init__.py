"""The staff dashboard: server-rendered pages in the shell (``optihub.shell``) over the
services and reads (no API of its own). Sign-in, sessions and CSRF are the auth pages';
``install`` adds the routes."""

from __future__ import annotations

from fastapi import FastAPI

from optihub import shell
from optihub.dashboard import (
    apps,
    board,
    board_copies,
    drafts,
    order_page,
    patient_link,
    settings,
    stock,
    webhooks,
)
from optihub.web import hot_routes

ROUTERS = (
    board.router,
    drafts.router,
    order_page.router,
    patient_link.router,
    stock.router,
    apps.router,
    webhooks.router,
    settings.router,
)


def install(app: FastAPI) -> None:
    """Add the dashboard's pages (after the auth pages, whose session middleware they use)
    and the shell's stylesheet and script (the pages' policy allows nothing inline)."""
    shell.install(app)
    for router in ROUTERS:
        app.include_router(router)
    board_copies.install(app, hot_routes(app), board.BOARD, board.COUNTS)
