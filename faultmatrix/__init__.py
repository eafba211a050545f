"""The fault matrix: every fault at every stage, then ``replay``, then F&O read back.

Run it with ``make fault-matrix`` (all cells) or ``make fault-matrix-fast`` (the CI rows); it
prints the matrix as a table and writes ``docs/fault-matrix.md``. Not part of the product: it
drives the product's commands against the sandbox, as an operator would.
"""
