"""Which practice a request acts for: the one its token was granted, or the one its path
names (checked against the grant). Never silently the first of several."""

from __future__ import annotations

from optihub.auth.resource import Principal
from optihub.errors import BadRequest, Forbidden


def single_practice(principal: Principal) -> int:
    """The practice of a single-practice token (partner, lab-order, fulfillment, portal)."""
    if len(principal.practice_ids) != 1:
        raise Forbidden(
            "The access token was granted several practices; this API acts for one: "
            "request a token for one practice (practice_id)"
        )
    return principal.practice_ids[0]


def practice_from_path(
    raw: str,
    principal: Principal,
    *,
    field: str,
    not_an_integer: str,
    not_granted: str,
) -> int:
    """The practice id a path segment names, which the token must have been granted.

    ``not_granted`` may use ``{id}``; the dialect supplies both sentences (its own words).
    """
    if not raw.isdigit() or len(raw) > 12:
        raise BadRequest(not_an_integer, code="invalid_practice_id", field=field)
    practice_id = int(raw)
    if practice_id not in principal.practice_ids:
        raise Forbidden(not_granted.format(id=raw))
    return practice_id
