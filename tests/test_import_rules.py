"""The rooms' import rules (docs/architecture.md), as import-linter contracts in ``.importlinter``.

grimp reads every import statement, so a lazy import inside a function counts as much as one at
the top. ``make test`` runs these through pytest, so CI fails on a broken rule.
"""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ROOT / "ml_connector_dagster"
SANDBOX = ROOT / "sandbox" / "ml_connector_sandbox"
CONTRACTS = (
    "The product and the sandbox never import each other",
    "The ledger rules are pure",
    "The clients and the transport know nothing of Dagster",
    "Only the code location and the commands import defs/",
    "No import cycle",
)


def _lint_imports(config: Path) -> subprocess.CompletedProcess[str]:
    command = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert command, "import-linter is not installed (it is in the test extra)"
    return subprocess.run(
        [command, "--config", str(config), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_every_import_contract_is_kept() -> None:
    done = _lint_imports(ROOT / ".importlinter")
    assert done.returncode == 0, done.stdout + done.stderr
    for name in CONTRACTS:  # each rule of the architecture is really checked
        assert name in done.stdout and "BROKEN" not in done.stdout


def test_a_broken_rule_is_caught(tmp_path: Path) -> None:
    """The contracts bite: the ledger importing the Rippling client is reported."""
    config = tmp_path / "contracts.ini"
    config.write_text(
        "[importlinter]\nroot_packages =\n    ml_connector_dagster\n\n"
        "[importlinter:contract:probe]\nname = probe\ntype = forbidden\n"
        "source_modules =\n    ml_connector_dagster.payroll\n"
        "forbidden_modules =\n    ml_connector_dagster.rippling\n"
    )
    done = _lint_imports(config)
    assert done.returncode != 0 and "probe BROKEN" in done.stdout


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
