"""Pure accounting rules: mapping, dimensions, journal building, allocation, checks. No I/O."""
