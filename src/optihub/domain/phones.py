"""Phone numbers: kept as the practice or vendor wrote them, read as E.164 when they can be.

No dialect's document gives a phone a format the others share (the lab-order API allows
any 20 characters, the practice API ten digits, the portal and fulfillment APIs say
nothing), so the core keeps the text as given and, beside it, the number in E.164
(``+16175550100``) when libphonenumber reads it as a valid number: written
internationally, or nationally as dialled in ``region``. That form is what two numbers are
compared by: ``(617) 555-0100`` and ``+1 617-555-0100`` are the same number.
"""

from __future__ import annotations

import phonenumbers

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
    try:
        number = phonenumbers.parse(text, region.upper())
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
