"""The app under load: OptiHub's own factory, logging configured as ``optihub serve`` does.

uvicorn's CLI installs its own logging config; OptiHub's JSON access log (one line per
request on stderr) is part of what is measured, so it is switched back on here.
"""

from __future__ import annotations

from fastapi import FastAPI

from optihub.app import create_app
from optihub.logging import configure_logging
from optihub.settings import Settings


def create() -> FastAPI:
    settings = Settings.from_env()
    configure_logging(settings.log_level, settings.log_json)
    return create_app(settings)
