"""Local, strict stand-in for Dynamics 365 Finance & Operations' OData service.

``DynamicsService`` owns the state (SQLite) and exposes a Starlette ``app``; the sandbox server
wraps it with TLS and fault injection. It follows Microsoft Learn's OData pages for finance
and operations apps and the entity schemas in ``schema/entities.json``.
"""

from ml_connector_sandbox.dynamics.response import ODataResponse
from ml_connector_sandbox.dynamics.seed import SeedError
from ml_connector_sandbox.dynamics.service import DynamicsService

__all__ = ["DynamicsService", "ODataResponse", "SeedError"]
