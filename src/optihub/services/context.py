"""Who is acting, for which practice, through which surface."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """The caller of a service: recorded in status history and the audit log.

    ``via`` names the surface (``partner``, ``practice``, ``labs``, ``dashboard``, ``cli``...).
    """

    practice_id: int
    via: str
    user_id: uuid.UUID | None = None
    client_id: str | None = None
    label: str = "system"

    @classmethod
    def system(cls, practice_id: int, via: str = "system") -> Actor:
        return cls(practice_id=practice_id, via=via, label=via)
