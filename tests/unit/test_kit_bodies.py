"""The kit's body checks (``optihub.surfaces.kit.bodies``): which JSON bodies are refused
before a route reads them, and the path each refusal names."""

from __future__ import annotations

import pytest

from optihub.surfaces.kit.bodies import indexed, is_json, refusal


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"name": "\\ud800"}', "name"),
        (b'{"name": "A\\uDFFFb"}', "name"),
        (b'{"name": "\xed\xa0\x80"}', "name"),
        # CESU-8: both halves as bytes of their own are still not UTF-8.
        (b'{"name": "\xed\xa0\xbd\xed\xb8\x80"}', "name"),
        (b'{"lines": [{"sku": "ok"}, {"sku": "x\\udc00"}]}', "lines.1.sku"),
        (b'{"patient": {"first_name": "\\ud800"}}', "patient.first_name"),
        (b'{"\\ud800": 1}', "\\ud800"),
        (b'"\\ud800"', "body"),
        ('{"name": "\ud800"}'.encode("utf-16-le", "surrogatepass"), "name"),
        (b'{"price": -1e-999999999}', "price"),
        (b'{"updates": [{"price": 1e-400}]}', "updates.0.price"),
        (b'{"price": 5E-0400}', "price"),
        (b'{"price": 1e-308}', "price"),
        (b'{"price": 0.' + b"0" * 400 + b"1}", "price"),
        (b'{"price": 0.' + b"0" * 250 + b"1e-60}", "price"),
        (b'{"price": 1e-99999999999999999999}', "price"),
        # The first fault in the order of the document.
        (b'{"a": "fine", "b": [1, {"c": 1e-999}], "d": "\\ud800"}', "b.1.c"),
    ],
)
def test_refused_with_the_path_of_the_value(body, field):
    refused = refusal(body)
    assert refused is not None
    assert refused.field == field
    assert refused.message.startswith(f"{field}: ")


def test_the_refusal_says_the_rule():
    text = refusal(b'{"name": "\\ud800"}')
    number = refusal(b'{"price": -1e-999999999}')
    assert text is not None and number is not None
    assert "valid Unicode" in text.message and "\\ud800" in text.message
    assert "-1e-999999999 is too small" in number.message and "1e-307" in number.message
    # What a refusal shows can be encoded (no surrogate of the body in it).
    assert refusal(b'{"\\ud800x": 1}').message.encode("utf-8")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b'{"name": "Ana"}',
        # A pair is one character; an escaped backslash before "ud800" is plain text.
        b'{"name": "\\ud83d\\ude00", "note": "\\\\ud800"}',
        '{"name": "Zo\u00eb \U0001f453"}'.encode(),
        b'{"price": 1e308, "tiny": 1e-307, "zero": 0e-999999999, "neg": -0.0}',
        b'{"note": "e-100 is a code, not a number", "small": 1.5e-100}',
        # Too large: the decoder reads infinity, which every field refuses (not this check).
        b'{"price": 1e400, "quantity": 1' + b"0" * 400 + b"}",
        b'{"price": 12.50, "E100": "E100 coating", "sku": "' + b"9" * 120 + b'"}',
        b'{"quantity": ' + b"9" * 300 + b"}",
        # Not JSON: left to the framework, which refuses it as always.
        b'{"name": "\\ud800"',
        b"\xff\xfe\x00",
        b"<Patient><Name>\xed\xa0\x80</Name></Patient>",
    ],
)
def test_passed_on(body):
    assert refusal(body) is None


@pytest.mark.parametrize(
    ("content_type", "decoded"),
    [
        (None, True),
        ("application/json", True),
        ("Application/JSON; charset=utf-8", True),
        ("application/merge-patch+json", True),
        ("application/xml", False),
        ("application/x-www-form-urlencoded", False),
        ("text/plain", False),
    ],
)
def test_bodies_the_framework_decodes_as_json(content_type, decoded):
    assert is_json(content_type) is decoded


def test_a_dialect_names_paths_its_own_way():
    body = b'[{"name": "Ana"}, {"items": [{"tax": 1e-999}]}]'
    assert refusal(body).field == "1.items.0.tax"
    assert refusal(body, indexed).field == "[1].items[0].tax"
    assert refusal(b'{"name": "\\ud800"}', indexed).field == "name"
    assert refusal(b'"\\ud800"', indexed).field == "body"
