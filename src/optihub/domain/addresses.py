"""US postal addresses: the state codes and the ZIP code format.

Reference data, not any vendor's words: a lab order's shipping address is checked against
it (``services.lab_orders.rules``), whichever way the order arrived (the lab-order API or
the dashboard's draft review).
"""

from __future__ import annotations

import re

# US states, DC and the territories (USPS codes).
US_STATES = frozenset(
    (
        "AL",
        "AK",
        "AZ",
        "AR",
        "CA",
        "CO",
        "CT",
        "DE",
        "FL",
        "GA",
        "HI",
        "ID",
        "IL",
        "IN",
        "IA",
        "KS",
        "KY",
        "LA",
        "ME",
        "MD",
        "MA",
        "MI",
        "MN",
        "MS",
        "MO",
        "MT",
        "NE",
        "NV",
        "NH",
        "NJ",
        "NM",
        "NY",
        "NC",
        "ND",
        "OH",
        "OK",
        "OR",
        "PA",
        "RI",
        "SC",
        "SD",
        "TN",
        "TX",
        "UT",
        "VT",
        "VA",
        "WA",
        "WV",
        "WI",
        "WY",
        "DC",
        "AS",
        "GU",
        "MP",
        "PR",
        "VI",
        "UM",
    )
)
# A US ZIP code: five digits, or ZIP+4.
US_ZIP_CODE = re.compile(r"^\d{5}(-\d{4})?$")
