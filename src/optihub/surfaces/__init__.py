"""API dialects, each a package that plugs into the surface kit (``surfaces/kit``):
``routes.py`` (endpoints), ``schemas.py`` (wire models), ``mapping.py`` (vocabulary
tables), ``errors.py`` (its error envelope), ``projection.py`` (how it shows an order),
``webhooks.py`` (how its subscribers see events) and a ``Surface`` declaration that the
app installs. A surface never imports another.

``SURFACES`` is the list the app installs, in this order.
"""

from optihub.surfaces.fhir import surface as fhir
from optihub.surfaces.fulfillment import surface as fulfillment
from optihub.surfaces.labs import surface as labs
from optihub.surfaces.partner import surface as partner
from optihub.surfaces.portal import surface as portal
from optihub.surfaces.practice import surface as practice

SURFACES = (partner, labs, practice, fulfillment, portal, fhir)

__all__ = ["SURFACES"]
