"""Configuration: the environment (one settings model) and the finance mapping file."""
