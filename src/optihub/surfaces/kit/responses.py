"""Responses every surface writes: JSON with orjson (stored document bytes joined without
re-encoding), XML for dialects that speak it, and the choice between them by ``Accept``.

XML bodies are parsed with defusedxml: a DTD, entity declarations and external entities
are refused before anything expands.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

import orjson
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from fastapi import Request
from fastapi.responses import Response

from optihub.errors import BadRequest

JSON = "application/json"
XML = "application/xml"


def json_response(
    body: Any, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(orjson.dumps(body), status_code, headers=headers, media_type=JSON)


def json_array(items: Iterable[bytes]) -> bytes:
    """``[a,b,...]`` from already-encoded JSON values."""
    return b"[" + b",".join(items) + b"]"


def json_object(**members: bytes) -> bytes:
    """``{"k": v, ...}`` from already-encoded JSON values (keys are plain identifiers)."""
    return b"{" + b",".join(b'"' + k.encode() + b'":' + v for k, v in members.items()) + b"}"


def raw_json(
    body: bytes, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(body, status_code, headers=headers, media_type=JSON)


def wants_xml(request_headers: Mapping[str, str]) -> bool:
    """True when ``Accept`` prefers XML over JSON (JSON is the default)."""
    accept = request_headers.get("accept", "")
    best, best_q = JSON, -1.0
    for part in accept.split(","):
        media, _, params = part.strip().partition(";")
        media = media.strip().lower()
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        kind = {
            "application/json": JSON,
            "text/json": JSON,
            "application/xml": XML,
            "text/xml": XML,
        }.get(media)
        if kind is not None and quality > best_q:
            best, best_q = kind, quality
    return best == XML


def is_xml(request: Request) -> bool:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return media in {"application/xml", "text/xml"}


def parse_xml(body: bytes) -> Element:
    """The root element of an XML body; DTDs and entities are refused (400)."""
    try:
        return fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise BadRequest(
            "XML with a DTD or entity declarations is not accepted",
            code="invalid_xml",
            field="body",
        ) from exc
    except Exception as exc:  # xml.etree.ElementTree.ParseError and expat errors
        raise BadRequest(
            "The body is not well-formed XML", code="invalid_xml", field="body"
        ) from exc


def local_name(tag: str) -> str:
    """``{namespace}Name`` → ``Name``."""
    return tag.rsplit("}", 1)[-1]


def xml_to_dict(element: Element) -> Any:
    """Child elements become keys (repeated ones a list); leaves become their text."""
    children = list(element)
    if not children:
        nil = any(local_name(k) == "nil" and v == "true" for k, v in element.attrib.items())
        return None if nil else (element.text or "")
    result: dict[str, Any] = {}
    for child in children:
        name = local_name(child.tag)
        value = xml_to_dict(child)
        if name in result:
            existing = result[name]
            result[name] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            result[name] = value
    return result


def dict_to_xml(root: str, data: Mapping[str, Any], namespace: str | None = None) -> bytes:
    """A DataContract-style document: one element per key, lists as repeated children."""
    element = Element(root, {"xmlns": namespace} if namespace else {})
    _fill(element, data)
    return tostring(element, encoding="utf-8", xml_declaration=False)


def _fill(element: Element, value: Any) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            _fill(SubElement(element, key), item)
    elif isinstance(value, list):
        for item in value:
            _fill(SubElement(element, "item"), item)
    elif value is None:
        element.set("xmlns:i", "http://www.w3.org/2001/XMLSchema-instance")
        element.set("i:nil", "true")
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    else:
        element.text = str(value)
