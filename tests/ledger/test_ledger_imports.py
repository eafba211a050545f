"""ledger/ is pure accounting: it imports neither Dagster nor the Rippling client's models.

Read from the source (ast), so an import inside a function counts as much as one at the top.
Rippling's models reach the rules only through ``payroll.to_ledger``.
"""

import ast
from pathlib import Path

import pytest

import ml_connector_dagster.ledger as ledger_package

LEDGER = Path(ledger_package.__file__).resolve().parent
FORBIDDEN = ("dagster", "ml_connector_dagster.rippling")


def _imported_modules(path: Path) -> set[str]:
    """Every absolute module a file imports (``from x import y`` counts as ``x`` and ``x.y``)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.level:  # relative: resolve against the ledger package
                base = "ml_connector_dagster.ledger"
                names.add(f"{base}.{node.module}")
                continue
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def _forbidden(name: str) -> bool:
    return any(name == banned or name.startswith(f"{banned}.") for banned in FORBIDDEN)


LEDGER_FILES = sorted(LEDGER.rglob("*.py"))


@pytest.mark.parametrize("path", LEDGER_FILES, ids=[p.name for p in LEDGER_FILES])
def test_a_ledger_module_imports_no_dagster_and_no_rippling(path: Path) -> None:
    assert sorted(n for n in _imported_modules(path) if _forbidden(n)) == []


def test_the_scan_reads_the_ledger_and_would_catch_an_offender(tmp_path: Path) -> None:
    assert {p.name for p in LEDGER_FILES} >= {"journal.py", "checks.py", "inputs.py"}
    offender = tmp_path / "offender.py"
    offender.write_text(
        "def late():\n"
        "    from ml_connector_dagster.rippling.models import Worker\n"
        "    import dagster as dg\n"
    )
    assert sorted(n for n in _imported_modules(offender) if _forbidden(n)) == [
        "dagster",
        "ml_connector_dagster.rippling.models",
        "ml_connector_dagster.rippling.models.Worker",
    ]
    sibling = tmp_path / "sibling.py"
    sibling.write_text("from ml_connector_dagster import rippling\n")
    assert [n for n in _imported_modules(sibling) if _forbidden(n)] == [
        "ml_connector_dagster.rippling"
    ]
