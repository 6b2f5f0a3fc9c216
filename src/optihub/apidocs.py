"""The interactive API reference (Swagger UI) served from the installed package.

FastAPI's default ``/docs`` and ``/redoc`` pages load their scripts and styles from a CDN,
so on a clinic's private network they stay blank. Here Swagger UI's files come from the
``swagger-ui-bundle-v2`` package (Swagger UI 5, which renders OpenAPI 3.1) and are served
under ``/docs/static``; the page references nothing outside this server. ReDoc is not
offered: no package ships it for offline use alongside Swagger UI.

The pages run no inline script (the content security policy every response carries allows
only scripts this server serves): Swagger UI is started by ``/docs/init.js``
(``apidocs.js``), which reads its settings from the page, and the OAuth2 redirect page
loads Swagger UI's own ``oauth2-redirect.js``.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.openapi.docs import swagger_ui_default_parameters
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

DOCS_URL = "/docs"
STATIC_URL = "/docs/static"
INIT_URL = "/docs/init.js"
INIT_SCRIPT = (Path(__file__).parent / "apidocs.js").read_bytes()

DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{static}/swagger-ui.css">
<link rel="icon" type="image/png" href="{static}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui" data-config="{config}"></div>
<script src="{static}/swagger-ui-bundle.js"></script>
<script src="{init}"></script>
</body>
</html>
"""

REDIRECT_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Swagger UI: OAuth2 Redirect</title></head>
<body>
<script src="{static}/oauth2-redirect.js"></script>
</body>
</html>
"""


def swagger_ui_config(app: FastAPI, root: str) -> dict[str, Any]:
    """What FastAPI's page passes to ``SwaggerUIBundle``, as data for ``apidocs.js``."""
    config: dict[str, Any] = {
        "url": f"{root}{app.openapi_url}",
        **swagger_ui_default_parameters,
        # The online validator badge would send the document's URL to swagger.io.
        "validatorUrl": None,
        **(app.swagger_ui_parameters or {}),
    }
    if app.swagger_ui_oauth2_redirect_url:
        config["oauth2RedirectUrl"] = f"{root}{app.swagger_ui_oauth2_redirect_url}"
    if app.swagger_ui_init_oauth:
        config["initOAuth"] = app.swagger_ui_init_oauth
    return jsonable_encoder(config)  # type: ignore[no-any-return]


def install_api_docs(app: FastAPI) -> None:
    """Serve ``/docs`` (and Swagger UI's OAuth2 redirect page) with local assets.

    The app must be built with ``docs_url=None, redoc_url=None`` so FastAPI's CDN pages
    are not registered as well.
    """
    app.mount(STATIC_URL, StaticFiles(directory=str(swagger_ui_path)), name="apidocs-static")
    redirect_url = app.swagger_ui_oauth2_redirect_url

    def root_of(request: Request) -> str:
        # Behind a proxy that strips a prefix, every URL the page uses carries it.
        return str(request.scope.get("root_path", "")).rstrip("/")

    @app.get(DOCS_URL, include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = root_of(request)
        return HTMLResponse(
            DOCS_PAGE.format(
                title=escape(f"{app.title} API reference"),
                static=escape(f"{root}{STATIC_URL}"),
                init=escape(f"{root}{INIT_URL}"),
                config=escape(json.dumps(swagger_ui_config(app, root))),
            )
        )

    @app.get(INIT_URL, include_in_schema=False)
    def swagger_ui_init() -> Response:
        return Response(INIT_SCRIPT, media_type="text/javascript")

    if redirect_url:

        @app.get(redirect_url, include_in_schema=False)
        def swagger_ui_oauth2_redirect(request: Request) -> HTMLResponse:
            return HTMLResponse(REDIRECT_PAGE.format(static=escape(root_of(request) + STATIC_URL)))
