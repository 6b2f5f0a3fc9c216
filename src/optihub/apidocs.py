"""The interactive API reference (Swagger UI) served from the installed package.

FastAPI's default ``/docs`` and ``/redoc`` pages load their scripts and styles from a CDN,
so on a clinic's private network they stay blank. Here Swagger UI's files come from the
``swagger-ui-bundle-v2`` package (Swagger UI 5, which renders OpenAPI 3.1) and are served
under ``/docs/static``; the page references nothing outside this server. ReDoc is not
offered: no package ships it for offline use alongside Swagger UI.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

DOCS_URL = "/docs"
STATIC_URL = "/docs/static"


def install_api_docs(app: FastAPI) -> None:
    """Serve ``/docs`` (and Swagger UI's OAuth2 redirect page) with local assets.

    The app must be built with ``docs_url=None, redoc_url=None`` so FastAPI's CDN pages
    are not registered as well.
    """
    app.mount(STATIC_URL, StaticFiles(directory=str(swagger_ui_path)), name="apidocs-static")
    redirect_url = app.swagger_ui_oauth2_redirect_url

    @app.get(DOCS_URL, include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        # Behind a proxy that strips a prefix, every URL the page uses carries it.
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} API reference",
            swagger_js_url=f"{root}{STATIC_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{STATIC_URL}/favicon-32x32.png",
            oauth2_redirect_url=f"{root}{redirect_url}" if redirect_url else None,
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters=app.swagger_ui_parameters,
        )

    if redirect_url:

        @app.get(redirect_url, include_in_schema=False)
        def swagger_ui_oauth2_redirect() -> HTMLResponse:
            return get_swagger_ui_oauth2_redirect_html()
