"""The staff dashboard: server-rendered pages in the shell (``optihub.shell``) over the
services and reads (no API of its own). Sign-in, sessions and CSRF are the auth pages';
``install`` adds the routes."""

from __future__ import annotations

from fastapi import FastAPI

from optihub import shell
from optihub.dashboard import board, drafts, stock

ROUTERS = (board.router, drafts.router, stock.router)


def install(app: FastAPI) -> None:
    """Add the dashboard's pages (after the auth pages, whose session middleware they use)
    and the shell's stylesheet and script (the pages' policy allows nothing inline)."""
    shell.install(app)
    for router in ROUTERS:
        app.include_router(router)
