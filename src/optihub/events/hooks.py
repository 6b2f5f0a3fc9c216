"""In-process hooks: what one use case announces, inside its transaction, to the use cases
that react to it.

The outbox (``events.outbox``) tells the world after a change commits; a hook tells another
service *now*, in the same session, so the reaction is part of the same change (it commits
or rolls back with it) and the announcing service needs no import of the reacting one. That
keeps a use case below the ones built on it: ``services.prescriptions`` announces a recorded
prescription, and ``services.fulfillment`` (which places its orders through
``services.orders``, which reads prescriptions) links it to the patient's waiting orders.

Reactions are connected once, where the services package is set up
(``optihub/services/__init__.py``), and run in the order they were connected, synchronously:
an exception in one reaches the announcing service's caller, as a direct call's would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, ParamSpec

P = ParamSpec("P")


class Hook(Generic[P]):
    """A named announcement with the arguments ``P`` its reactions take."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._reactions: list[Callable[P, object]] = []

    def connect(self, reaction: Callable[P, object]) -> None:
        """Run ``reaction`` each time the hook fires (once, however often it is connected)."""
        if reaction not in self._reactions:
            self._reactions.append(reaction)

    def fire(self, *args: P.args, **kwargs: P.kwargs) -> None:
        """Run every reaction with these arguments, in the order they were connected."""
        for reaction in self._reactions:
            reaction(*args, **kwargs)

    def __repr__(self) -> str:
        return f"Hook({self.name!r}, reactions={len(self._reactions)})"
