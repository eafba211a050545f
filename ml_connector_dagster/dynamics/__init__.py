"""The Dynamics 365 F&O client: Entra tokens, OData reads and writes, ``$batch``, readers.

Knows nothing of Dagster or Rippling.
"""
