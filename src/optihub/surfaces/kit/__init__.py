"""The surface kit: what every API dialect shares, so a dialect package holds only its
own words and shapes (routes, wire schemas, vocabulary tables, envelope, projection).

A dialect declares a ``Surface`` and calls ``surface.install(app)``; see
docs/architecture.md, "Adding a surface".
"""

from optihub.problems import Problem
from optihub.surfaces.kit.fast import FastRead
from optihub.surfaces.kit.fast_write import FastWrite, WriteRequest
from optihub.surfaces.kit.fields import WebhookUrl
from optihub.surfaces.kit.idempotency import fingerprint, idempotent
from optihub.surfaces.kit.paging import (
    MAX_OFFSET,
    Offset,
    Poll,
    Timestamp,
    decode_keyset,
    encode_keyset,
    limit_param,
    offset_page,
)
from optihub.surfaces.kit.practice import practice_from_path, single_practice
from optihub.surfaces.kit.responses import (
    dict_to_xml,
    is_xml,
    json_array,
    json_object,
    json_response,
    parse_xml,
    raw_json,
    wants_xml,
    xml_to_dict,
)
from optihub.surfaces.kit.surface import Surface, Surfaces, WebhookShape, install_kit
from optihub.surfaces.kit.vocabulary import status_filter

__all__ = [
    "MAX_OFFSET",
    "FastRead",
    "FastWrite",
    "Offset",
    "Poll",
    "Problem",
    "Surface",
    "Surfaces",
    "Timestamp",
    "WebhookShape",
    "WebhookUrl",
    "WriteRequest",
    "decode_keyset",
    "dict_to_xml",
    "encode_keyset",
    "fingerprint",
    "idempotent",
    "install_kit",
    "is_xml",
    "json_array",
    "json_object",
    "json_response",
    "limit_param",
    "offset_page",
    "parse_xml",
    "practice_from_path",
    "raw_json",
    "single_practice",
    "status_filter",
    "wants_xml",
    "xml_to_dict",
]
