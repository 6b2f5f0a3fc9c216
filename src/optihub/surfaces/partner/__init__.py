"""Partner API (Eyekiosk dialect), mounted at ``/api/v1/partner``."""

from optihub.surfaces.partner.routes import install

__all__ = ["install"]
