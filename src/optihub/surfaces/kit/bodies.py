"""What the kit refuses in a JSON body before any route reads it: values the framework's
decoder would hand on although no field can take them.

- **Text that is not Unicode.** JSON may escape half of a UTF-16 surrogate pair on its own
  (``"\\ud800"``), and Python's decoder reads the bytes ``ED A0 80`` as that half too. Such
  a string cannot be encoded as UTF-8: not stored, not hashed, not written back.
- **Numbers too small for a float.** The decoder reads a number with a fraction or an
  exponent as a binary float. A huge one becomes infinity, which every field refuses; a
  tiny one silently becomes 0 (``-1e-999999999`` → ``-0.0``), so a price of "almost
  nothing" would be stored as 0. The kit refuses the tiny side of that rule: a number
  other than 0 must be at least ``1e-307`` in magnitude (a float loses digits below
  about ``2.2e-308``, then reads 0).

Either is a 400 naming the value's path in the body (``lines.0.sku``). A body whose bytes
show neither is passed on after a few scans of its bytes, each for a literal (an escaped
or encoded surrogate, a negative exponent of three digits or more, a run of 100 zeros);
only a suspect body is decoded once more here, to find the value. A body that is not JSON
at all is left to the framework, which refuses it as always.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from optihub.errors import BadRequest

SMALLEST = Decimal("1e-307")
NUMBER_RULE = "a number other than 0 must be at least 1e-307 in magnitude"

# What may hide a refused value, each pattern starting with a literal so that its scan is
# a fast one (one pattern with alternatives cost more than decoding the body). A number
# below 1e-307 has a negative exponent of three digits, or 100 zeros after its point.
_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")
_ENCODED_SURROGATE = re.compile(rb"\xed[\xa0-\xbf]")
_TINY_EXPONENTS = (re.compile(rb"e-0*[1-9][0-9]{2}"), re.compile(rb"E-0*[1-9][0-9]{2}"))
_ZEROS = b"0" * 100
_SURROGATE = re.compile("[\ud800-\udfff]")
_SHOWN = 40


class _Number:
    """A number as written (its value checked after decoding, so its path is known)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def is_json(content_type: str | None) -> bool:
    """The framework decodes the body as JSON: no ``Content-Type``, ``application/json``
    or ``application/…+json``."""
    if not content_type:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


Path = tuple[str | int, ...]


def dotted(path: Path) -> str:
    """``("lines", 0, "sku")`` → ``lines.0.sku``, as the framework names a field."""
    return ".".join(_printable(part) for part in path) or "body"


def indexed(path: Path) -> str:
    """``("lines", 0, "sku")`` → ``lines[0].sku``; ``(1, "email")`` → ``[1].email``."""
    named = "".join(
        f"[{part}]" if isinstance(part, int) else f".{_printable(part)}" for part in path
    )
    return named.removeprefix(".") or "body"


def refusal(body: bytes, name: Callable[[Path], str] = dotted) -> BadRequest | None:
    """The 400 for the first value of ``body`` (a JSON document) that no field can take,
    naming its path with ``name``; or None."""
    if not body or not _suspect(body):
        return None
    try:
        document = json.loads(body, parse_float=_Number)
    except (ValueError, RecursionError):  # not JSON: the framework says so
        return None
    found = _first_fault(document)
    if found is None:
        return None
    path, rule = found
    field = name(path)
    return BadRequest(f"{field}: {rule}", field=field)


def _suspect(body: bytes) -> bool:
    if json.detect_encoding(body) != "utf-8":  # UTF-16 or 32: the scans do not apply
        return True
    return bool(
        _ESCAPED_SURROGATE.search(body)
        or (b"\xed" in body and _ENCODED_SURROGATE.search(body))
        or _ZEROS in body
        or any(pattern.search(body) for pattern in _TINY_EXPONENTS)
    )


def _first_fault(document: Any) -> tuple[Path, str] | None:
    """The path of the first refused value, in the order of the document, and the rule it
    breaks (depth first without recursion: the decoder took the nesting, so may we)."""
    pending: list[tuple[Path, Any]] = [((), document)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str):
            rule = _text_rule(value)
            if rule:
                return path, rule
        elif isinstance(value, _Number):
            rule = _number_rule(value.text)
            if rule:
                return path, rule
        elif isinstance(value, dict):
            for key in value:
                rule = _text_rule(key)
                if rule:
                    return (*path, key), rule
            pending.extend(((*path, key), item) for key, item in reversed(value.items()))
        elif isinstance(value, list):
            pending.extend(((*path, index), value[index]) for index in reversed(range(len(value))))
    return None


def _text_rule(text: str) -> str:
    found = _SURROGATE.search(text)
    if found is None:
        return ""
    half = f"\\u{ord(found.group()):04x}"
    return f"Text must be valid Unicode: {half} is half of a surrogate pair, not a character."


def _number_rule(text: str) -> str:
    mantissa, _, exponent = text.lower().partition("e")
    if not mantissa.strip("-0."):
        return ""  # 0, whatever its exponent
    try:
        # Exact: no context applies (``abs()`` would round a tiny number to 0 itself).
        tiny = Decimal(text).copy_abs() < SMALLEST
    except InvalidOperation:  # an exponent beyond even a Decimal's
        tiny = exponent.startswith("-")
    if not tiny:
        return ""
    shown = text if len(text) <= _SHOWN else text[:_SHOWN] + "…"
    return f"The number {shown} is too small: {NUMBER_RULE}."


def _printable(part: str | int) -> str:
    """A path part as the error may show it (a member name may hold a surrogate too)."""
    text = str(part)
    if len(text) > _SHOWN:
        text = text[:_SHOWN] + "…"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
