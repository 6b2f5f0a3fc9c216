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


def _parsed(raw: str, region: str) -> str | None:
    """The E.164 form by libphonenumber's parse alone (what ``e164`` gives for any text)."""
    import phonenumbers

    text = raw.strip()
    if not text:
        return None
    try:
        number = phonenumbers.parse(text, region.upper())
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _written_ways() -> list[str]:
    """North American numbers (and near misses) written the ways people write them."""
    import random

    picks = random.Random(20261206)
    prefixes = [
        "",
        "1",
        "1 ",
        "1-",
        "+1",
        "+1 ",
        "+ 1 ",
        "+1-",
        "+1.",
        "01",
        "0",
        "0 ",
        "001 ",
        "+",
        "+2 ",
        "11",
    ]
    middles = [" ", "-", ".", "", "  ", " - "]
    ways = []
    for _ in range(3000):
        area = f"{picks.randrange(0, 1000):03d}"
        exchange = f"{picks.randrange(0, 1000):03d}"
        line = f"{picks.randrange(0, 10000):04d}"
        if picks.random() < 0.1:
            line = line[: picks.randrange(0, 4)] if picks.random() < 0.5 else line + "7"
        split, other = picks.choice(middles), picks.choice(middles)
        shown_area = f"({area})" if picks.random() < 0.3 else area
        ways.append(f"{picks.choice(prefixes)}{shown_area}{split}{exchange}{other}{line}")
    # The demo's and the benches' numbers, and the examples above.
    return [*ways, "617-555-0187", "6175550199", "(617) 555-0100", "1 800 356 9377"]


@pytest.mark.parametrize("region", ["US", "CA", "PR", "us", "GB", "FR", "DE", "ZZ"])
def test_every_north_american_way_of_writing_reads_as_libphonenumbers_parse_reads_it(region):
    # e164 builds the number itself when it is written as ten digits (perhaps after 1 or
    # +1): what it gives must be what the library's parse gives, valid or not.
    different = [
        (raw, phones.e164(raw, region), _parsed(raw, region))
        for raw in _written_ways()
        if phones.e164(raw, region) != _parsed(raw, region)
    ]
    assert different == []
