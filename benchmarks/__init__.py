"""Scripts that print figures against the sandbox (README.md here); not tests, not shipped."""
