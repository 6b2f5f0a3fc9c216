"""Phone numbers: kept as the practice or vendor wrote them, read as E.164 when they can be.

No dialect's document gives a phone a format the others share (the lab-order API allows
any 20 characters, the practice API ten digits, the portal and fulfillment APIs say
nothing), so the core keeps the text as given and, beside it, the number in E.164
(``+16175550100``) when libphonenumber reads it as a valid number: written
internationally, or nationally as dialled in ``region``. That form is what two numbers are
compared by: ``(617) 555-0100`` and ``+1 617-555-0100`` are the same number.
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import PhoneNumber

# The strictest vendor's limit (the lab-order API's ``phone_number``), and the column's.
MAX_LENGTH = 20
# The longest E.164 number: "+" and 15 digits.
E164_MAX_LENGTH = 16
DEFAULT_REGION = "US"


def as_given(raw: str | None) -> str | None:
    """The number as the core keeps it: trimmed; None when nothing is left."""
    if raw is None:
        return None
    return raw.strip() or None


def e164(raw: str | None, region: str = DEFAULT_REGION) -> str | None:
    """``raw`` as an E.164 number (an extension such as ``x204`` left out), or None when it
    is not a valid number: not a number at all, too short to dial from anywhere (a
    seven-digit local number such as ``555-0100`` has no area code), or in no country's
    numbering plan. ``region``: the ISO 3166 country a number without a ``+`` is read in."""
    text = as_given(raw)
    if text is None:
        return None
    region = region.upper()
    national = _north_american(text, region)
    if national is not None:
        valid = phonenumbers.is_valid_number(PhoneNumber(country_code=1, national_number=national))
        return f"+1{national}" if valid else None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# A North American number as most are written: ten digits (area code first, 2–9), perhaps
# after a 1 or +1, in groups split by spaces, dots or hyphens, the area code perhaps in
# brackets (ASCII digits and those separators only).
# What ``phonenumbers.parse`` reads from such a text is the country code 1 and those ten
# digits; building that number directly skips the parse, most of what ``e164`` cost (36 →
# 15 µs a number; tests/unit/test_phones.py holds it to the parse's answers). Anything else
# — letters, an extension, another country's number — is parsed.
_NORTH_AMERICAN = re.compile(
    r"(?:\+ *1|1)?[ .-]*(?:\(([2-9][0-9]{2})\)|([2-9][0-9]{2}))[ .-]*([0-9]{3})[ .-]*([0-9]{4})"
)
# Regions that read a number without a ``+`` in the North American plan (country code 1).
_NANP_REGIONS = frozenset(phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(1, ()))


def _north_american(text: str, region: str) -> int | None:
    """The ten-digit national number of ``text`` when it is written as above and read in the
    North American plan (written with +1, or in a region of it), else None."""
    found = _NORTH_AMERICAN.fullmatch(text)
    if found is None:
        return None
    if not text.startswith("+") and region not in _NANP_REGIONS:
        return None
    area = found.group(1) or found.group(2)
    return int(area + found.group(3) + found.group(4))
