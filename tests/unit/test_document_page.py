"""A list page kept under the order version carries the response bodies surfaces assembled
from it, so a page served again from its copy is served with the same bytes."""

from __future__ import annotations

from optihub.reads.orders import BODIES_PER_PAGE, DocumentPage


def test_a_page_assembles_each_body_once_per_key():
    page = DocumentPage([b'{"id":1}', b'{"id":2}'], 7)
    calls: list[int] = []

    def assemble(limit: int):
        def body(of: DocumentPage) -> bytes:
            calls.append(limit)
            return b"[" + b",".join(of.items[:limit]) + b"]"

        return body

    assert page.body(("partner", 1, 0), assemble(1)) == b'[{"id":1}]'
    assert page.body(("partner", 1, 0), assemble(1)) == b'[{"id":1}]'
    assert page.body(("partner", 2, 0), assemble(2)) == b'[{"id":1},{"id":2}]'
    assert calls == [1, 2]  # the second request for a key is served what the first made
    for n in range(10):
        page.body(("other", n), assemble(n))
    assert len(page.bodies) == BODIES_PER_PAGE  # bounded: later keys are assembled each time
    assert page == DocumentPage([b'{"id":1}', b'{"id":2}'], 7)  # bodies are not the page
