"""The vendor's own messages for a refused record, as its ASP.NET service words them
(``ModelState`` entries), each naming the member by the vendor's field name."""

from __future__ import annotations


def required(name: str) -> str:
    return f"The {name} field is required."


def too_long(name: str, limit: int) -> str:
    return f"The field {name} must be a string with a maximum length of {limit}."


def between(name: str, low: str, high: str) -> str:
    return f"The field {name} must be between {low} and {high}."


def no_such(noun: str, external_id: object) -> str:
    return f"No {noun} with ExternalId '{external_id}' exists."


def later(name: str, than: str) -> str:
    return f"{name} must be later than {than}."


BIRTHDAY_IN_FUTURE = "The field Birthday cannot be in the future."
OWN_RELATIVE = "A patient cannot be their own relative."
NO_EYE = "At least one eye's prescription data is required."
NOT_A_PDF = "The file must be a PDF document."
FILE_NAME_WITH_FILE = "The FileName field is required with FileContent."
EXPIRES_BEFORE_PRESCRIBED = "An expiration date cannot be before the prescribed date."
