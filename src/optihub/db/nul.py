"""No text with NUL is stored: PostgreSQL cannot hold it, so neither backend takes it.

Every statement through an engine is checked (``refuse_nul_listener``, a
``before_cursor_execute`` listener ``db.session.make_engine`` installs), and so is every
statement sent past SQLAlchemy (``refuse_nul``, called by ``db.prepared``)."""

from __future__ import annotations

from typing import Any

from optihub.errors import BadRequest

NUL_REFUSED = "Text must not contain the NUL character (\\u0000)."


def _has_nul(parameters: Any) -> bool:
    if isinstance(parameters, dict):
        values: Any = parameters.values()
    elif isinstance(parameters, (list, tuple)):
        values = parameters
    else:
        return False
    for value in values:
        if isinstance(value, str):
            if "\x00" in value:
                return True
        elif isinstance(value, (dict, list, tuple)) and _has_nul(value):
            return True
    return False


def refuse_nul_listener(
    _conn: Any, _cursor: Any, _statement: str, parameters: Any, _context: Any, _executemany: bool
) -> None:
    """No text with NUL is stored: PostgreSQL cannot hold it, so neither backend takes it.

    Raised before the statement runs; the transaction rolls back and nothing is written.
    """
    if parameters and _has_nul(parameters):
        raise BadRequest(NUL_REFUSED)


def refuse_nul(parameters: Any) -> None:
    """The ``refuse_nul_listener`` check for statements sent on a raw DBAPI connection."""
    if parameters and _has_nul(parameters):
        raise BadRequest(NUL_REFUSED)
