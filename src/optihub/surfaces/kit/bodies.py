"""What the kit refuses in a JSON body before any route reads it: values the framework's
decoder would hand on although no field can take them.

- **Text that is not Unicode.** JSON may escape half of a UTF-16 surrogate pair on its own
  (``"\\ud800"``), and Python's decoder reads the bytes ``ED A0 80`` as that half too. Such
  a string cannot be encoded as UTF-8: not stored, not hashed, not written back.

It is a 400 naming the value's path in the body (``lines.0.sku``). A body whose bytes show
none (no ``\\uD8..``-``\\uDF..`` escape, no ``ED A0``-``ED BF`` bytes, UTF-8) is passed on
after one scan of its bytes; anything else is decoded once more here to find the value. A
body that is not JSON at all is left to the framework, which refuses it as always.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from optihub.errors import BadRequest

# Bytes that may hide a surrogate: escaped, or encoded.
_SUSPECT = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_SHOWN = 40


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
        document = json.loads(body)
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


def _printable(part: str | int) -> str:
    """A path part as the error may show it (a member name may hold a surrogate too)."""
    text = str(part)
    if len(text) > _SHOWN:
        text = text[:_SHOWN] + "…"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
