"""The OAuth request behind a FastAPI request, shared by the endpoints (``auth.routes``)
and the pages (``auth.pages``, sign-in and consent): its parameters, read before a sync
route runs; the Authlib request built from them on the request's session; and the app's
authorization server. Both modules build on this one, so neither imports the other for it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from optihub.auth.oauth_session import use_session
from optihub.auth.server import OAuthRequest, OptiHubAuthorizationServer


async def parsed_params(request: Request) -> dict[str, list[tuple[str, str]]]:
    """Query and form pairs, read before the sync route runs (Authlib is synchronous)."""
    form: list[tuple[str, str]] = []
    if request.method == "POST":
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            data = await request.form()
            form = [(k, v) for k, v in data.multi_items() if isinstance(v, str)]
    return {"query": list(request.query_params.multi_items()), "form": form}


Params = Annotated[dict[str, list[tuple[str, str]]], Depends(parsed_params)]


def oauth_request(request: Request, params: dict[str, Any], session: Session) -> OAuthRequest:
    use_session(session)
    return OAuthRequest(
        method=request.method,
        uri=str(request.url),
        headers=request.headers,
        query=params["query"],
        form=params["form"],
        session=session,
    )


def server_of(request: Request) -> OptiHubAuthorizationServer:
    return request.app.state.oauth_server  # type: ignore[no-any-return]
