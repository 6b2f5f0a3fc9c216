"""Which requests the hot routes answered (``web.HotRoutes``: the kit's fast reads, the
board's copies) and which went on to the framework route: the fast-path tests compare the
two answers, so each needs to know which path a request took."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy import select

from optihub.db.models import OrderDocument
from optihub.reads import documents
from optihub.reads import orders as order_reads
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


def stored_documents_are_fresh(db, practice_id: int, order_id: str) -> int:
    """Every projection's document stored for the order (at its commit) equals one rendered
    from the order read back now: what the creates store from the views they make of the
    rows they have just written (``order_views.view_of_written``) is what a read would
    render. The number of documents compared."""
    key = uuid.UUID(order_id.rsplit("_", 1)[-1]) if "_" in order_id else uuid.UUID(order_id)
    with db.reading() as reader:
        view = order_reads.view(reader, practice_id, key)
        stored = {
            projection: (summary, extra)
            for projection, summary, extra in reader.execute(
                select(
                    OrderDocument.projection, OrderDocument.summary, OrderDocument.detail_extra
                ).where(OrderDocument.practice_id == practice_id, OrderDocument.order_id == key)
            )
        }
    fresh = {each.name: each.render(view) for each in documents.registered()}
    assert stored == fresh
    return len(stored)
