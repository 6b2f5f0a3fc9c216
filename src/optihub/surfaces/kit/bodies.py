"""What the kit refuses in a JSON body before any route reads it: values the framework's
decoder would hand on although no field can take them.

- **Text that is not Unicode.** JSON may escape half of a UTF-16 surrogate pair on its own
  (``"\\ud800"``), and Python's decoder reads the bytes ``ED A0 80`` as that half too. Such
  a string cannot be encoded as UTF-8: not stored, not hashed, not written back.
- **Numbers a float cannot hold.** The decoder reads a number with a fraction or an
  exponent as a binary float, where ``1e400`` becomes infinity and ``-1e-999999999``
  becomes ``-0.0``: a price of "almost nothing" would be stored as 0. Numbers are refused
  unless they are 0 or their magnitude is between ``1e-307`` and ``1e308`` (what a float
  holds without losing the exponent), integers included, so the rule is one sentence.

Either is a 400 naming the value's path in the body (``lines.0.sku``). A body whose bytes
show neither (no ``\\uD8..``-``\\uDF..`` escape, no ``ED A0``-``ED BF`` bytes, no exponent of
three digits, no run of 100 digits, UTF-8) is passed on after one scan of its bytes;
anything else is decoded once more here to find the value. A body that is not JSON at all
is left to the framework, which refuses it as always.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from optihub.errors import BadRequest

SMALLEST = Decimal("1e-307")
LARGEST = Decimal("1e308")
NUMBER_RULE = "a number must be 0 or between 1e-307 and 1e308 in magnitude"

# Bytes that may hide a surrogate (escaped, or encoded) or a number out of range.
_SUSPECT = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]|[eE][+-]?0*[1-9][0-9]{2}|[0-9]{100}")
_SURROGATE = re.compile("[\ud800-\udfff]")
_MANTISSA_END = re.compile("[eE]")
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
    if not body or (json.detect_encoding(body) == "utf-8" and not _SUSPECT.search(body)):
        return None
    try:
        document = json.loads(body, parse_float=_Number, parse_int=_Number)
    except (ValueError, RecursionError):  # not JSON: the framework says so
        return None
    found = _first_fault(document)
    if found is None:
        return None
    path, rule = found
    field = name(path)
    return BadRequest(f"{field}: {rule}", field=field)


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
    if not _MANTISSA_END.split(text, maxsplit=1)[0].strip("-0."):
        return ""  # zero, whatever its exponent
    try:
        # Exact: no context applies (``abs()`` would round a tiny number to 0).
        magnitude: Decimal | None = Decimal(text).copy_abs()
    except InvalidOperation:  # an exponent beyond even a Decimal's
        magnitude = None
    if magnitude is not None and SMALLEST <= magnitude <= LARGEST:
        return ""
    shown = text if len(text) <= _SHOWN else text[:_SHOWN] + "…"
    return f"The number {shown} is out of range: {NUMBER_RULE}."


def _printable(part: str | int) -> str:
    """A path part as the error may show it (a member name may hold a surrogate too)."""
    text = str(part)
    if len(text) > _SHOWN:
        text = text[:_SHOWN] + "…"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
