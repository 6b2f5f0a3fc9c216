"""The phone numbers each dialect's phone table sends (tests/api/*/test_phones.py), with
what the core keeps beside the text for them in a US practice: the E.164 form, or None
when the text is not a valid number. Each dialect's table says what it accepts."""

from __future__ import annotations

import pytest

PHONES = [
    pytest.param("555-0100", None, id="local"),  # no area code: not dialable from afar
    pytest.param("(617) 555-0100", "+16175550100", id="national"),
    pytest.param("617.555.0100", "+16175550100", id="national-dots"),
    pytest.param("1-617-555-0100", "+16175550100", id="national-with-1"),
    pytest.param("6175550100", "+16175550100", id="ten-digits"),
    pytest.param("+44 20 7946 0958", "+442079460958", id="international-gb"),
    pytest.param("+33 1 23 45 67 89", "+33123456789", id="international-fr"),
    pytest.param("617-555-0100 x204", "+16175550100", id="extension"),  # E.164 has none
    pytest.param("1 800 356 9377", "+18003569377", id="vanity-in-digits"),
    pytest.param("617-555-0100 ext 204", "+16175550100", id="twenty-characters"),
]
TOO_LONG = "617-555-0100 ext 2045"
assert len(TOO_LONG) == 21
