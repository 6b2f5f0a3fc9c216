"""The API reference works without the internet: every asset comes from this server."""

from __future__ import annotations

import re

ATTRIBUTE = re.compile(r"""\b(src|href)\s*=\s*["']([^"']*)["']""", re.IGNORECASE)


def referenced(html: str) -> list[tuple[str, str]]:
    return ATTRIBUTE.findall(html)


def test_docs_page_references_only_this_server(client):
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "http://" not in html
    assert "https://" not in html
    links = referenced(html)
    assert links, "the page references no asset"
    for _attribute, url in links:
        assert url, "empty src/href"
        assert not url.startswith("//"), f"protocol-relative URL {url}"
        assert ":" not in url.split("/", 1)[0], f"URL with a scheme: {url}"
    assert "/openapi.json" in html


def test_every_asset_of_the_docs_page_is_served(client):
    links = referenced(client.get("/docs").text)
    kinds = {"script": "javascript", "stylesheet": "text/css", "icon": "image/"}
    seen = set()
    for attribute, url in links:
        if attribute.lower() == "src":
            kind = "script"
        elif url.endswith(".css"):
            kind = "stylesheet"
        else:
            kind = "icon"
        response = client.get(url)
        assert response.status_code == 200, url
        assert kinds[kind] in response.headers["content-type"], (url, response.headers)
        assert response.content
        seen.add(kind)
    assert {"script", "stylesheet"} <= seen


def test_openapi_document_and_oauth2_redirect_page_are_served(client):
    assert client.get("/openapi.json").status_code == 200
    redirect = client.get("/docs/oauth2-redirect")
    assert redirect.status_code == 200
    assert "https://" not in redirect.text
    assert "http://" not in redirect.text


def test_the_cdn_pages_are_gone(client):
    assert client.get("/redoc").status_code == 404
    paths = client.get("/openapi.json").json()["paths"]
    assert not any(path.startswith("/docs") for path in paths)
