"""Connection credentials for Rippling and Dynamics: models, the encrypted store, resolution."""
