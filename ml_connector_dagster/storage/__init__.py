"""What the connector keeps on disk between steps: asset values, typed and encrypted.

``codec.py`` turns a value (dataclasses, pydantic models, Decimal, dates...) into versioned
JSON and back, constructing only the types it was told about; ``sealed.py`` encrypts that JSON
with the credential store's key ring and writes it owner-only. Pickle is not used: a pickle
ties stored data to the code's module paths and runs code when loaded.
"""
