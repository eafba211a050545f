"""Faithful local stand-ins for Rippling, Microsoft Entra ID and Dynamics 365 F&O.

Served over HTTPS on loopback so the connector's real clients (httpx, MSAL) run unchanged.
See ``server.py`` for how the three services are started, ``faults.py`` for fault switches and
``fault_middleware.py`` for how they act on requests.
"""
