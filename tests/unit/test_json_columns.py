"""The text a JSON column stores: ``db.session.json_text`` (the engines' JSON serializer)."""

from __future__ import annotations

import json

import pytest

from optihub.db.session import json_text, make_engine


@pytest.mark.parametrize(
    "value",
    [
        {"sphere": -2.25, "axis": 90, "notes": "Tönung 15 % — grau", "coats": ["ar", "uv"]},
        [1, 2.5, None, True, False, ""],
        {"nested": {"deep": [{"x": 1}]}},
        'a text with "quotes" and a \\ backslash and a newline\n',
    ],
)
def test_a_value_reads_back_as_it_was(value) -> None:
    assert json.loads(json_text(value)) == value


def test_an_integer_beyond_64_bits_is_kept_exact() -> None:
    # orjson does not write it; the standard library's encoder does, digit for digit.
    value = {"quantity": 123456789012345678901234567890}
    assert json.loads(json_text(value)) == value


def test_keys_that_are_not_text_are_written_as_text_as_the_standard_library_does() -> None:
    assert json.loads(json_text({1: "a", 2: "b"})) == json.loads(json.dumps({1: "a", 2: "b"}))


def test_a_value_neither_encoder_writes_is_refused() -> None:
    with pytest.raises(TypeError):
        json_text({"id": object()})


def test_every_engine_writes_json_columns_with_it(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'json.db'}")
    try:
        assert engine.dialect._json_serializer is json_text
    finally:
        engine.dispose()
