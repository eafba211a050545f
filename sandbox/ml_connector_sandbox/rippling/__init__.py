"""A local stand-in for Rippling's v2 REST API and v1 company_activity, strict like the real one."""

from ml_connector_sandbox.rippling.service import RipplingService

__all__ = ["RipplingService"]
