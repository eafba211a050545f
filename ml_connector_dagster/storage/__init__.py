"""What the connector keeps between steps: asset values, typed and encrypted.

``codec.py`` turns a value (dataclasses, pydantic models, Decimal, dates...) into versioned
JSON and back, constructing only the types it was told about; ``envelope.py`` seals that JSON
with the credential store's key ring. Where the sealed bytes live is a backend
(``backend.py``): owner-only files on one machine (``local.py`` over ``sealed.py``), or a table
every process and container reaches (``database.py``). Pickle is not used: a pickle ties
stored data to the code's module paths and runs code when loaded.
"""
