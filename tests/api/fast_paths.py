"""Which requests the hot routes answered (``web.HotRoutes``: the kit's fast reads, the
board's copies) and which went on to the framework route: the fast-path tests compare the
two answers, so each needs to know which path a request took."""

from __future__ import annotations

from collections.abc import Callable

from optihub.web import hot_routes


def record_fast_answers(app, wanted: Callable[[str], bool]) -> list[bool]:
    """For each request whose path ``wanted`` picks, in order: True when a hot route
    answered it, False when it went to the framework route."""
    answers: list[bool] = []
    routes = hot_routes(app)
    answer = routes.answer

    async def spy(hot, scope):
        answered = await answer(hot, scope)
        if wanted(scope["path"]):
            answers.append(answered is not None)
        return answered

    routes.answer = spy
    return answers
