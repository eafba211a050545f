"""Local, strict stand-in for Dynamics 365 Finance & Operations' OData service.

``DynamicsService`` owns the state (SQLite) and exposes a Starlette ``app``; the sandbox server
wraps it with TLS and fault injection. The spec it follows is docs/dynamics-api.md.
"""

from .service import DynamicsService, ODataResponse, SeedError

__all__ = ["DynamicsService", "ODataResponse", "SeedError"]
