"""Phone numbers: kept as given, read as E.164 when they are valid numbers."""

from __future__ import annotations

import pytest

from optihub.domain import phones


@pytest.mark.parametrize(
    ("raw", "kept"),
    [(None, None), ("", None), ("   ", None), (" (617) 555-0100\n", "(617) 555-0100")],
)
def test_a_number_is_kept_trimmed(raw, kept):
    assert phones.as_given(raw) == kept


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("(617) 555-0100", "US", "+16175550100"),
        ("1-617-555-0100", "US", "+16175550100"),
        ("617-555-0100 x204", "US", "+16175550100"),
        ("1 800 356 9377", "US", "+18003569377"),
        ("+44 20 7946 0958", "US", "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("020 7946 0958", "gb", "+442079460958"),
        ("01 23 45 67 89", "FR", "+33123456789"),
        ("+1 617 555 0100", "FR", "+16175550100"),  # written internationally: any region
        ("555-0100", "US", None),  # local: no area code
        ("(555) 123-4567", "US", None),  # 555 is no area code
        ("020 7946 0958", "US", None),
        ("1 800 FLOWERS", "US", "+18003569377"),  # vanity letters: their keypad digits
        ("call the office", "US", None),
        ("6175550100", "ZZ", None),  # no such country to read it in
        ("", "US", None),
        (None, "US", None),
    ],
)
def test_the_e164_form(raw, region, e164):
    assert phones.e164(raw, region) == e164
