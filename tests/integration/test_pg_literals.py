"""The literals ``db.prepared`` writes into deferred PostgreSQL statements are the very text
psycopg's ``ClientCursor.mogrify`` writes, and read back as the values given."""

from __future__ import annotations

import enum
import random
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import psycopg
from psycopg.types.json import Jsonb

from optihub.db import prepared
from optihub.db.session import json_text

SQL = "SELECT %(v)s, '50%%' AS percent, %(v)s IS NULL AS missing"


class Level(enum.IntEnum):
    LOW = 1


def _strings(count: int) -> list[str]:
    rng = random.Random(23)
    alphabet = [
        "a",
        "Z",
        "0",
        " ",
        "'",
        "''",
        "\\",
        "\\'",
        "%",
        "%(v)s",
        "%s",
        "--",
        ";",
        "é",
        "’",
        "😀",
        "\n",
        "\t",
        "E'",
        "$$",
    ]
    return [
        "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12))) for _ in range(count)
    ]


VALUES = [
    *_strings(400),
    "",
    "O'Brien; DROP TABLE patients; --",
    None,
    True,
    False,
    0,
    7,
    -7,
    2**70,
    -(2**70),
    1.5,
    -2.25,
    1e300,
    Decimal("1.50"),
    Decimal("-0.25"),
    Decimal("-0"),
    Decimal("1E+3"),
    Decimal("123456789012345678901234567890.123"),
    uuid.UUID(int=5),
    uuid.uuid4(),
    datetime(2026, 12, 6, 8, 30, 15, 123456, tzinfo=UTC),
    datetime(2026, 12, 6, 8, 30, 15, tzinfo=timezone(timedelta(hours=-5))),
    datetime(2026, 12, 6, 8, 30, 15),
    date(2026, 12, 6),
    Jsonb({"note": 'it\'s \\ a "test" 50%', "n": [1, None, -2.5]}),
    Jsonb(["é", {"k": "’"}]),
]


def _driver(db):
    return db.engine.raw_connection().driver_connection


def test_each_value_is_written_as_psycopg_writes_it(db):
    if db.dialect != "postgresql":
        return  # SQLite runs its statements at once: nothing is written as text
    raw = db.engine.raw_connection()
    try:
        driver = raw.driver_connection
        psycopg.types.json.set_json_dumps(json_text, driver)  # as the engine's connections
        parts = prepared._split(SQL)
        quoting = psycopg.ClientCursor(driver)
        for value in VALUES:
            ours = prepared._literal_sql(parts, {"v": value}, driver)
            assert ours == quoting.mogrify(SQL, {"v": value}), value
            row = driver.execute(ours).fetchone()
            assert row[1:] == ("50%", value is None)
            expected = value.obj if isinstance(value, Jsonb) else value
            if isinstance(value, datetime) and value.tzinfo is None:
                expected = value  # read back as written, without a zone
            if isinstance(value, float):  # an unadorned number reads back as a numeric
                assert float(row[0]) == value
            else:
                assert row[0] == expected, value
    finally:
        raw.close()


def test_a_value_of_another_type_is_left_to_psycopg(db):
    if db.dialect != "postgresql":
        return
    raw = db.engine.raw_connection()
    try:
        parts = prepared._split(SQL)
        for value in (
            b"bytes",
            Level.LOW,
            float("nan"),
            float("inf"),
            Decimal("NaN"),
            Decimal("-Infinity"),
        ):
            assert prepared._literal_sql(parts, {"v": value}, raw.driver_connection) is None, value
    finally:
        raw.close()


def test_a_statement_is_split_around_its_parameters_and_percent_signs():
    texts, names = prepared._split("UPDATE t SET a = %(a)s, b = '100%%' WHERE c = %(c)s::UUID")
    assert names == ("a", "c")
    assert texts == ("UPDATE t SET a = ", ", b = '100%' WHERE c = ", "::UUID")
