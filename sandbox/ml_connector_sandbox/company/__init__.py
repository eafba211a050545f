"""The sandbox's fictional company: one JSON-serializable dict seeding Rippling, Entra and F&O.

``generate_company`` builds it deterministically from a seed; ``save_company``/``load_company``
store and validate it; ``company_fingerprint`` tells a stand-in whether its stored state came
from this company. The format is documented in ``docs/sandbox-dataset.md``.
"""

from ml_connector_sandbox.company.fileio import (
    CompanyFormatError,
    company_fingerprint,
    load_company,
    save_company,
    validate_company,
)
from ml_connector_sandbox.company.generate import generate_company

__all__ = [
    "CompanyFormatError",
    "company_fingerprint",
    "generate_company",
    "load_company",
    "save_company",
    "validate_company",
]
