"""The rooms' import rules: the product never imports the sandbox, the sandbox never the product.

Read from the source (ast), so a lazy import inside a function counts as much as one at the top.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ROOT / "ml_connector_dagster"
SANDBOX = ROOT / "sandbox" / "ml_connector_sandbox"


def _imports(package: Path) -> dict[str, set[str]]:
    """Every top-level module name each file under ``package`` imports."""
    found: dict[str, set[str]] = {}
    for path in package.rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


@pytest.mark.parametrize(
    "package,forbidden",
    [(PRODUCT, "ml_connector_sandbox"), (SANDBOX, "ml_connector_dagster")],
    ids=["product-imports-no-sandbox", "sandbox-imports-no-product"],
)
def test_a_room_does_not_import_the_other(package: Path, forbidden: str) -> None:
    offenders = sorted(path for path, names in _imports(package).items() if forbidden in names)
    assert offenders == []
    assert len(_imports(package)) > 20  # the scan really read the package


def test_the_product_package_holds_no_sandbox() -> None:
    assert not (PRODUCT / "sandbox").exists()
    assert (SANDBOX / "server.py").is_file()
    assert 'include = ["ml_connector_dagster*"]' in (ROOT / "pyproject.toml").read_text()


def test_the_pure_tests_load_without_the_sandbox() -> None:
    """conftest and the pure rules' helpers import no stand-in (the sandbox starts lazily)."""
    import subprocess
    import sys

    probe = (
        "import sys; sys.path.insert(0, 'tests'); import conftest, ledger_factories;"
        " import ml_connector_dagster.ledger.journal, ml_connector_dagster.posting.plan;"
        " loaded = sorted(m for m in sys.modules if m.startswith('ml_connector_sandbox'));"
        " print(loaded); sys.exit(1 if loaded else 0)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
