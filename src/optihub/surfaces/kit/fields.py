"""Request fields every dialect types alike."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from optihub.events.addresses import MAX_LENGTH

# A webhook address. The wire model only bounds it: the checks and the normal form are the
# webhook service's (``events.addresses``), one rule for every surface, reported as a 400
# naming the field in the dialect's envelope.
WebhookUrl = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_LENGTH,
        json_schema_extra={"format": "uri"},
        description="An absolute https URL resolving to public addresses (docs/webhooks.md)",
    ),
]
